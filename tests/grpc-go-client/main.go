// grpc-go-client calls the gRPC health service of a provider over one client connection
// for a while and reports, as one JSON line, how many calls succeeded and failed and how
// many times the connection was dialled. grpc-go is the gRPC implementation
// cluster-autoscaler is built on, so this is how the provider's connection handling
// (graceful close after --grpc-max-connection-age) looks to cluster-autoscaler.
// Driven by tests/tests/grpc_go_client.rs; .ci/run builds it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

type report struct {
	OK     int      `json:"ok"`
	Failed int      `json:"failed"`
	Dials  int64    `json:"dials"`
	Errors []string `json:"errors"`
}

func main() {
	address := flag.String("address", "127.0.0.1:8086", "host:port of the provider's gRPC port (plaintext)")
	duration := flag.Duration("duration", 2*time.Second, "how long to keep calling")
	interval := flag.Duration("interval", 20*time.Millisecond, "pause between calls")
	flag.Parse()

	var dials atomic.Int64
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	conn, err := grpc.NewClient("passthrough:///"+*address,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dialer))
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpc-go-client:", err)
		os.Exit(2)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	out := report{Errors: []string{}}
	deadline := time.Now().Add(*duration)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err != nil {
			out.Failed++
			if len(out.Errors) < 10 {
				out.Errors = append(out.Errors, err.Error())
			}
		} else {
			out.OK++
		}
		time.Sleep(*interval)
	}
	out.Dials = dials.Load()
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(2)
	}
}
