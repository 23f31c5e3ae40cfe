"""VPC isolation is Nimbus's own nftables table and holds whatever else happens on the host: a
stale iptables rule below netavark's jump (a host where `make up` ran first), networks created
and removed in any order, the container engine restarting, an administrator flushing FORWARD
or deleting the table (compute repairs it within a reconcile round and reports it). Real
podman, real packet filtering: probes run nc inside the instances."""
import shlex
import subprocess
import time
import urllib.request
import uuid

import pytest

from test_compute_e2e import eventually, http_server

LEGACY_RULE = ["FORWARD", "-i", "nv+", "-o", "nv+", "-m", "physdev", "!", "--physdev-is-bridged",
               "-m", "comment", "--comment", "nimbus: no routing between VPC networks", "-j", "DROP"]


def run(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class Networks:
    """Two VPCs of one tenant: an HTTP server and a prober in A, a prober in B."""

    def __init__(self, p):
        self.p, pb = p, p.pb
        suffix = uuid.uuid4().hex[:6]
        self.octet = int(suffix[:2], 16) % 100
        self.vpcs = [p.vpcs.CreateVpc(pb.CreateVpcRequest(name=f"{n}-{suffix}", cidr=f"172.22.{self.octet + k}.0/24"),
                                      metadata=p.as_tenant(), timeout=30) for n, k in (("a", 0), ("b", 100))]
        self.suffix = suffix
        self.instances = []
        self.server = self.launch(http_server(pb, f"srv-{suffix}", self.vpcs[0].id))
        self.same = self.launch(self.sleeper(f"same-{suffix}", self.vpcs[0].id))
        self.other = self.launch(self.sleeper(f"other-{suffix}", self.vpcs[1].id))
        self.address = self.running(self.server).private_ip
        for instance in (self.same, self.other):
            self.running(instance)

    def sleeper(self, name, vpc_id):
        return self.p.pb.LaunchInstanceRequest(name=name, image="busybox", command=["sleep", "3600"], vpc_id=vpc_id)

    def launch(self, request):
        instance = self.p.instances.LaunchInstance(request, metadata=self.p.as_tenant(), timeout=30)
        self.instances.append(instance)
        return instance

    def running(self, instance):
        got = self.p.wait_state(instance.id, [self.p.pb.INSTANCE_STATE_RUNNING, self.p.pb.INSTANCE_STATE_ERROR])
        assert got.state == self.p.pb.INSTANCE_STATE_RUNNING, got
        return got

    def probe(self, instance):
        """REACHED or BLOCKED: an HTTP request from inside `instance` to the server."""
        script = (f"if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {self.address} 8080 2>/dev/null | grep -q hello; "
                  "then echo REACHED; else echo BLOCKED; fi")
        return self.p.podman.cli("exec", f"nimbus-{instance.id}", "sh", "-c", script).stdout.strip()

    def assert_isolated(self):
        assert self.probe(self.same) == "REACHED"
        assert self.probe(self.other) == "BLOCKED", "an instance in another VPC reached the server"

    def close(self):
        pb = self.p.pb
        for instance in self.instances:
            self.p.instances.TerminateInstance(pb.InstanceActionRequest(id=instance.id), metadata=self.p.as_tenant(), timeout=30)
        for instance in self.instances:
            self.p.wait_state(instance.id, [pb.INSTANCE_STATE_TERMINATED])
        for vpc in self.vpcs:
            self.p.vpcs.DeleteVpc(pb.DeleteVpcRequest(id=vpc.id), metadata=self.p.as_tenant(), timeout=30)


@pytest.fixture(scope="module")
def networks(platform):
    networks = Networks(platform)
    yield networks
    networks.close()


def table(platform):
    return platform.compute_env["NIMBUS_COMPUTE_FIREWALL_TABLE"]


def repairs(platform):
    text = urllib.request.urlopen(f"http://{platform.compute_address}/metrics", timeout=10).read().decode()
    lines = [line for line in text.splitlines() if line.startswith("nimbus_compute_firewall_repairs_total")]
    return int(float(lines[0].split()[-1])) if lines else 0


def test_compute_owns_a_table_that_drops_routing_between_vpc_bridges(platform, networks):
    listing = run("nft", "list", "table", "inet", table(platform)).stdout
    assert "hook forward priority filter - 10" in listing
    for vpc in networks.vpcs:
        bridge = "nv" + vpc.id.replace("-", "")[:12]
        assert f'oifname != "{bridge}" drop' in listing
    networks.assert_isolated()


def test_isolation_holds_below_a_stale_iptables_rule(platform, networks):
    # podman.sh removes the rule older versions of it inserted.
    run("iptables", "-I", *LEGACY_RULE[:1], "1", *LEGACY_RULE[1:])
    platform.podman.script("start")
    assert run("iptables", "-C", *LEGACY_RULE, check=False).returncode != 0
    # A host where it sits below netavark's jump (`make up` ran first): it never matches, and
    # isolation does not depend on it.
    run("iptables", "-A", *LEGACY_RULE)
    try:
        forward = run("iptables", "-S", "FORWARD").stdout.splitlines()
        assert "physdev" in forward[-1] and any("NETAVARK" in rule for rule in forward[:-1]), forward
        networks.assert_isolated()
    finally:
        run("iptables", "-D", *LEGACY_RULE, check=False)


def test_isolation_holds_as_networks_come_and_go(platform, networks):
    p, pb = platform, platform.pb
    # Another VPC with an instance comes and goes (netavark tears its rules down), another is
    # created and removed empty, in the opposite order of creation.
    c = p.vpcs.CreateVpc(pb.CreateVpcRequest(name=f"c-{networks.suffix}", cidr=f"172.23.{networks.octet}.0/24"), metadata=p.as_tenant(), timeout=30)
    d = p.vpcs.CreateVpc(pb.CreateVpcRequest(name=f"d-{networks.suffix}", cidr=f"172.23.{networks.octet + 100}.0/24"), metadata=p.as_tenant(), timeout=30)
    passing = p.instances.LaunchInstance(networks.sleeper(f"pass-{networks.suffix}", c.id), metadata=p.as_tenant(), timeout=30)
    networks.running(passing)
    p.instances.TerminateInstance(pb.InstanceActionRequest(id=passing.id), metadata=p.as_tenant(), timeout=30)
    p.wait_state(passing.id, [pb.INSTANCE_STATE_TERMINATED])
    p.vpcs.DeleteVpc(pb.DeleteVpcRequest(id=d.id), metadata=p.as_tenant(), timeout=30)
    p.vpcs.DeleteVpc(pb.DeleteVpcRequest(id=c.id), metadata=p.as_tenant(), timeout=30)
    networks.assert_isolated()
    # A VPC created now is kept apart from the start.
    e = p.vpcs.CreateVpc(pb.CreateVpcRequest(name=f"e-{networks.suffix}", cidr=f"172.24.{networks.octet}.0/24"), metadata=p.as_tenant(), timeout=30)
    networks.vpcs.append(e)
    late = networks.launch(networks.sleeper(f"late-{networks.suffix}", e.id))
    networks.running(late)
    assert networks.probe(late) == "BLOCKED"
    networks.assert_isolated()


def test_isolation_holds_after_the_engine_restarts(platform, networks):
    platform.podman.script("stop")
    platform.podman.script("start")
    networks.assert_isolated()


def test_compute_repairs_its_table_and_reports_it(platform, networks):
    # An administrator flushes FORWARD: Nimbus's table is not in it (netavark's rules are put
    # back right after, for the other runs on this host).
    saved = run("iptables", "-S", "FORWARD").stdout.splitlines()
    run("iptables", "-F", "FORWARD")
    try:
        networks.assert_isolated()
    finally:
        for rule in saved:
            if rule.startswith("-A ") and run("iptables", "-C", *shlex.split(rule)[1:], check=False).returncode != 0:
                run("iptables", *shlex.split(rule), check=False)
    before = repairs(platform)
    run("nft", "delete", "table", "inet", table(platform))
    started = time.monotonic()
    assert eventually(lambda: run("nft", "list", "table", "inet", table(platform), check=False).returncode == 0, timeout=10)
    assert time.monotonic() - started < 5, "repaired within a reconcile round (2 s)"
    assert eventually(lambda: repairs(platform) == before + 1)
    assert "compute.firewall.repaired" in platform.compute_log.read_text()
    networks.assert_isolated()
    # A changed rule is put back too.
    bridge = "nv" + networks.vpcs[0].id.replace("-", "")[:12]
    run("nft", "flush", "chain", "inet", table(platform), f"from_{bridge}")
    assert eventually(lambda: repairs(platform) == before + 2, timeout=10)
    assert f'oifname != "{bridge}" drop' in run("nft", "list", "chain", "inet", table(platform), f"from_{bridge}").stdout
    networks.assert_isolated()
