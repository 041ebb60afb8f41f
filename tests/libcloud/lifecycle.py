#!/usr/bin/env python3
"""Drives a running kamatera-sim with Apache Libcloud's Kamatera driver through a whole node
lifecycle, checking what the driver returns at every step.

The driver is written against the real cloudcli API, so every step here is a check of the
simulator's fidelity (docs/testing.md, "Judged by Libcloud"). Run by the `libcloud_driver`
module of the `tests` crate; by hand:

    cargo run -p kamatera-sim -- --listen 127.0.0.1:8088 --clock real --scale 50 \
        --client-id lc-client --secret lc-secret
    target/ci-tools/libcloud-venv/bin/python tests/libcloud/lifecycle.py \
        --url http://127.0.0.1:8088 --client-id lc-client --secret lc-secret

Prints one line per step; exits 1 with the failed check on the first failure.
"""

import argparse
import datetime
import sys
import urllib.parse

from libcloud.common.exceptions import BaseHTTPError
from libcloud.compute.base import NodeAuthSSHKey
from libcloud.compute.drivers.kamatera import KamateraNodeDriver
from libcloud.compute.types import NodeState

LOCATION = "EU"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJ1bm5pbmctdGhlLWxpYmNsb3VkLWRyaXZlcg e2e"


class CheckFailed(Exception):
    """One check of one step did not hold."""


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def check_eq(actual, expected, what):
    check(actual == expected, "%s: expected %r, got %r" % (what, expected, actual))


class FastPollingDriver(KamateraNodeDriver):
    """The real driver with a short queue poll interval: `ex_wait_command` takes the interval
    and the timeout as parameters, and the simulator's commands finish in milliseconds."""

    poll_interval_seconds = 0.05
    timeout_seconds = 60

    def ex_wait_command(self, command_id, timeout_seconds=None, poll_interval_seconds=None):
        return KamateraNodeDriver.ex_wait_command(
            self,
            command_id,
            timeout_seconds=timeout_seconds or self.timeout_seconds,
            poll_interval_seconds=poll_interval_seconds or self.poll_interval_seconds,
        )


def driver_for(url, client_id, secret):
    parsed = urllib.parse.urlsplit(url)
    check(parsed.scheme == "http", "--url must be http://host:port, got %r" % url)
    return FastPollingDriver(
        client_id, secret, secure=False, host=parsed.hostname, port=parsed.port
    )


def by_id(nodes, node_id):
    return [n for n in nodes if n.id == node_id]


def step_locations(driver, ctx):
    locations = driver.list_locations()
    ids = [loc.id for loc in locations]
    check(len(ids) == len(set(ids)), "location ids repeat: %r" % ids)
    check(LOCATION in ids and "IL" in ids, "EU and IL expected among %r" % ids)
    # The driver maps subCategory to the name (the city) and name to the country.
    eu = next(loc for loc in locations if loc.id == LOCATION)
    check_eq((eu.name, eu.country), ("Amsterdam", "The Netherlands"), "EU location")
    il = next(loc for loc in locations if loc.id == "IL")
    check_eq((il.name, il.country), ("Rosh Haayin", "Israel"), "IL location")
    ctx["location"] = eu
    return "%d locations, EU is %s, %s" % (len(locations), eu.name, eu.country)


def step_sizes(driver, ctx):
    sizes = driver.list_sizes(ctx["location"])
    got = [
        (s.id, s.ram, s.disk, s.extra["cpuCores"], s.extra["cpuType"], s.extra["monthlyTrafficPackage"])
        for s in sizes
    ]
    check_eq(
        got,
        [
            ("small", 4096, 30, 2, "B", "t5000"),
            ("medium", 8192, 60, 4, "B", "t5000"),
            ("large", 16384, 100, 8, "B", "t5000"),
        ],
        "sizes (id, ram MB, disk GB, cores, cpu type, traffic)",
    )
    ctx["size"] = sizes[0]
    return ", ".join(s.id for s in sizes)


def step_images(driver, ctx):
    images = driver.list_images(ctx["location"])
    check(len(images) > 0, "no images in EU")
    for image in images:
        check(image.id.startswith(LOCATION + ":"), "image id %r is not an EU id" % image.id)
        check_eq(image.extra["datacenter"], LOCATION, "datacenter of image %s" % image.id)
        check(image.name, "image %s has no name" % image.id)
        check(
            set(image.extra["ramMBMin"]) == {"A", "B", "D", "T"},
            "ramMBMin of %s keys the CPU types: %r" % (image.id, image.extra["ramMBMin"]),
        )
    ubuntu = [i for i in images if i.extra["os"] == "Ubuntu" and "24.04" in i.extra["code"]]
    check_eq(len(ubuntu), 1, "Ubuntu 24.04 images")
    ctx["image"] = ubuntu[0]
    return "%d images, using %s" % (len(images), ubuntu[0].name)


def step_capabilities(driver, ctx):
    caps = driver.ex_list_capabilities(ctx["location"])
    check_eq(
        set(caps),
        {"cpuTypes", "defaultMonthlyTrafficPackage", "diskSizeGB", "monthlyTrafficPackage"},
        "capability keys",
    )
    check_eq(caps["defaultMonthlyTrafficPackage"], "t5000", "default traffic package")
    check("t5000" in caps["monthlyTrafficPackage"], "t5000 not among the traffic packages")
    types = {t["id"]: t for t in caps["cpuTypes"]}
    check_eq(sorted(types), ["A", "B", "D", "T"], "CPU types")
    for cpu_type in types.values():
        check_eq(
            set(cpu_type), {"id", "name", "description", "cpuCores", "ramMB"}, "CPU type keys"
        )
    size = ctx["size"]
    check(size.extra["cpuCores"] in types["B"]["cpuCores"], "small's cores not offered for B")
    check(size.ram in types["B"]["ramMB"], "small's RAM not offered for B")
    check(size.disk in caps["diskSizeGB"], "small's disk size not offered")
    return "CPU types %s, %d disk sizes" % ("".join(sorted(types)), len(caps["diskSizeGB"]))


def check_created(node, name, ctx, running):
    check_eq(node.name, name, "name of the created node (from the queue log's Name: line)")
    check(node.id, "created node %s has no id" % name)
    check_eq(node.state, NodeState.RUNNING if running else NodeState.STOPPED, "state of %s" % name)
    check(len(node.public_ips) == 1, "%s: one public IP expected, got %r" % (name, node.public_ips))
    check_eq(node.private_ips, [], "private IPs of %s (WAN only)" % name)
    check_eq(node.extra["location"].id, LOCATION, "location of %s" % name)
    check_eq(node.extra["billingcycle"], "hourly", "billing of %s" % name)
    check_eq((node.extra["dailybackup"], node.extra["managed"]), (False, False), "backup, managed")
    check(node.extra["priceOn"], "%s: no hourly price" % name)
    check(isinstance(node.created_at, datetime.datetime), "%s: no completion time" % name)
    check(
        "Name: %s\n" % name in node.extra["create_log"],
        "%s: create log lacks its Name: line: %r" % (name, node.extra["create_log"]),
    )
    check_eq(node.size, ctx["size"], "size of %s" % name)
    check_eq(node.image, ctx["image"], "image of %s" % name)


def step_create(driver, ctx):
    name = ctx["prefix"] + "-pw"
    node = driver.create_node(
        name=name, size=ctx["size"], image=ctx["image"], location=ctx["location"]
    )
    check_created(node, name, ctx, running=True)
    password = node.extra.get("generated_password") or ""
    check_eq(len(password), 20, "length of the generated password")
    ctx["node"] = node
    return "%s (%s) running at %s" % (node.name, node.id, node.public_ips[0])


def step_create_ssh_key_powered_off(driver, ctx):
    name = ctx["prefix"] + "-key"
    node = driver.create_node(
        name=name,
        size=ctx["size"],
        image=ctx["image"],
        location=ctx["location"],
        auth=NodeAuthSSHKey(SSH_KEY),
        ex_poweronaftercreate=False,
    )
    check_created(node, name, ctx, running=False)
    check("generated_password" not in node.extra, "an SSH-key create returned a password")
    ctx["keyed"] = node
    return "%s (%s) created powered off" % (node.name, node.id)


def step_list_brief(driver, ctx):
    nodes = driver.list_nodes()
    for node, state in ((ctx["node"], NodeState.RUNNING), (ctx["keyed"], NodeState.STOPPED)):
        found = by_id(nodes, node.id)
        check_eq(len(found), 1, "listings of %s" % node.name)
        check_eq(found[0].name, node.name, "listed name")
        check_eq(found[0].state, state, "listed state of %s" % node.name)
        check_eq(found[0].extra["location"].id, LOCATION, "listed location of %s" % node.name)
    return "%d nodes listed" % len(nodes)


def step_list_full(driver, ctx):
    full = driver.list_nodes(ex_full_details=True)
    node = ctx["node"]
    found = by_id(full, node.id)
    check_eq(len(found), 1, "full listings of %s" % node.name)
    check_eq(found[0].public_ips, node.public_ips, "public IPs in the full listing")
    check_eq(found[0].state, NodeState.RUNNING, "state in the full listing")
    matched = driver.list_nodes(ex_name_regex=ctx["prefix"] + "-.*")
    check_eq(
        sorted(n.name for n in matched),
        sorted([ctx["node"].name, ctx["keyed"].name]),
        "nodes matching %s-.*" % ctx["prefix"],
    )
    one = driver.list_nodes(ex_id=ctx["keyed"].id)
    check_eq([(n.id, n.state) for n in one], [(ctx["keyed"].id, NodeState.STOPPED)], "by id")
    return "%d with full details, 2 by name pattern, 1 by id" % len(full)


def state_of(driver, node):
    found = driver.list_nodes(ex_id=node.id)
    check_eq(len(found), 1, "servers with id %s" % node.id)
    return found[0].state


def step_stop(driver, ctx):
    node = ctx["node"]
    check(driver.stop_node(node) is True, "stop_node did not return True")
    check_eq(state_of(driver, node), NodeState.STOPPED, "state after stop_node")
    return "%s stopped" % node.name


def step_start(driver, ctx):
    node = ctx["node"]
    check(driver.start_node(node) is True, "start_node did not return True")
    check_eq(state_of(driver, node), NodeState.RUNNING, "state after start_node")
    keyed = ctx["keyed"]
    check(driver.start_node(keyed) is True, "start_node did not return True")
    check_eq(state_of(driver, keyed), NodeState.RUNNING, "state of the SSH-key node after start")
    return "%s and %s running" % (node.name, keyed.name)


def step_reboot(driver, ctx):
    node = ctx["node"]
    check(driver.reboot_node(node) is True, "reboot_node did not return True")
    check_eq(state_of(driver, node), NodeState.RUNNING, "state after reboot_node")
    return "%s rebooted, running" % node.name


def step_destroy(driver, ctx):
    # Both are running: the driver's terminate sends force=true, which a running server needs.
    for node in (ctx["node"], ctx["keyed"]):
        check(driver.destroy_node(node) is True, "destroy_node did not return True")
    ids = {n.id for n in driver.list_nodes()}
    for node in (ctx["node"], ctx["keyed"]):
        check(node.id not in ids, "%s is still listed after destroy_node" % node.name)
    try:
        left = driver.list_nodes(ex_name_regex=ctx["prefix"] + "-.*")
    except BaseHTTPError as e:
        check("No servers found" in str(e), "info after destroy: unexpected error %r" % e)
    else:
        raise CheckFailed("info still finds %r after destroy" % [n.name for n in left])
    return "both nodes gone"


def step_wrong_secret(args, ctx):
    driver = driver_for(args.url, args.client_id, args.secret + "-wrong")
    try:
        driver.list_locations()
    except BaseHTTPError as e:
        check_eq(e.code, 401, "HTTP status of a wrong secret")
        check("you are not logged in" in e.message, "auth error message: %r" % e.message)
        return "HTTP 401: %s" % e.message
    raise CheckFailed("a wrong secret listed the locations")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the simulator, http://host:port")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--prefix", default="libcloud-e2e", help="names of the nodes created")
    parser.add_argument("--poll-interval", type=float, default=0.05, help="queue poll (s)")
    args = parser.parse_args()
    FastPollingDriver.poll_interval_seconds = args.poll_interval

    driver = driver_for(args.url, args.client_id, args.secret)
    ctx = {"prefix": args.prefix}
    steps = [
        ("list_locations", lambda: step_locations(driver, ctx)),
        ("list_sizes", lambda: step_sizes(driver, ctx)),
        ("list_images", lambda: step_images(driver, ctx)),
        ("ex_list_capabilities", lambda: step_capabilities(driver, ctx)),
        ("create_node", lambda: step_create(driver, ctx)),
        ("create_node ssh key, off", lambda: step_create_ssh_key_powered_off(driver, ctx)),
        ("list_nodes", lambda: step_list_brief(driver, ctx)),
        ("list_nodes full details", lambda: step_list_full(driver, ctx)),
        ("stop_node", lambda: step_stop(driver, ctx)),
        ("start_node", lambda: step_start(driver, ctx)),
        ("reboot_node", lambda: step_reboot(driver, ctx)),
        ("destroy_node", lambda: step_destroy(driver, ctx)),
        ("wrong secret", lambda: step_wrong_secret(args, ctx)),
    ]
    for name, run in steps:
        try:
            summary = run()
        except CheckFailed as e:
            print("FAIL %s: %s" % (name, e), flush=True)
            return 1
        except Exception as e:  # the driver raised: that is the step's failure
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
            return 1
        print("ok   %s: %s" % (name, summary), flush=True)
    print("libcloud lifecycle: %d steps passed" % len(steps), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
