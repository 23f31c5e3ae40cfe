"""Round trip between the Swift-generated protobuf types and Python's protobuf (PyPI).

Usage: check.py DIR

DIR/swift/<case>.bin      Swift encodings of the cases below (written by NimbusProtoTests)
DIR/descriptors/<n>.bin   Swift-embedded FileDescriptorProtos of naming.proto and its dependencies
DIR/python/<case>.bin     written here: Python's encodings, which the Swift test decodes

For each case: Python decodes the Swift bytes and compares them with its own value, and the
Swift bytes must equal Python's deterministic serialization byte for byte (except the
multi-entry map case, see NOT_BYTE_COMPARABLE). Compiles echo.proto
with grpc_tools.protoc into a temporary directory first. Exit status 1 on any mismatch.
"""
import importlib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
PROTOS = os.path.join(REPO, "Protos")


# Map entries have no single canonical encoding: Python writes default keys and values inside
# entries and orders keys its own way; Swift (protobuf-c) omits defaults and sorts keys. Such
# cases are compared by decoded value only (single non-default entries are compared by bytes).
NOT_BYTE_COMPARABLE = {"maps"}


def compile_protos(out_dir):
    import grpc_tools
    wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = ["nimbus/testing/v1/echo.proto", "google/api/annotations.proto", "google/api/http.proto"]
    # naming.proto is only needed for its descriptors: it is not imported here.
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}", f"-I{wkt}", f"--python_out={out_dir}", *files],
        check=True,
    )
    sys.path.insert(0, out_dir)
    return importlib.import_module("nimbus.testing.v1.echo_pb2"), importlib.import_module("google.api.annotations_pb2")


def cases(pb):
    from google.protobuf.timestamp_pb2 import Timestamp

    E, N = pb.Everything, pb.Everything.Nested
    i32, i64, u32, u64 = 2**31 - 1, 2**63 - 1, 2**32 - 1, 2**64 - 1
    flt_max = 3.4028234663852886e38
    return {
        "empty": E(),
        "scalars_max": E(
            f_int32=i32, f_int64=i64, f_uint32=u32, f_uint64=u64, f_sint32=i32, f_sint64=i64,
            f_fixed32=u32, f_fixed64=u64, f_sfixed32=i32, f_sfixed64=i64, f_bool=True,
            f_float=flt_max, f_double=1.7976931348623157e308),
        "scalars_min": E(
            f_int32=-(2**31), f_int64=-(2**63), f_uint32=1, f_uint64=1, f_sint32=-(2**31), f_sint64=-(2**63),
            f_fixed32=1, f_fixed64=1, f_sfixed32=-(2**31), f_sfixed64=-(2**63), f_bool=False,
            f_float=-1.5, f_double=-2.5e-300),
        "negatives": E(f_int32=-1, f_int64=-1, f_sint32=-1, f_sint64=-1, color=pb.COLOR_NEGATIVE),
        "strings": E(
            f_string="héllo wörld ✓ 🚀", f_bytes=bytes(range(256)),
            r_string=["a", "", "ü"], r_bytes=[b"", b"\x00\xff"]),
        "repeated": E(
            r_int32=[1, -1, 300, i32], r_sint64=[-1, 1, -(2**63)], r_double=[0.5, -0.25], r_bool=[True, False, True],
            r_color=[pb.COLOR_RED, pb.COLOR_BLUE, pb.COLOR_NEGATIVE, 99],
            r_fixed32=[1, u32], r_uint64=[0, u64], r_float=[1.5, -2.0]),
        "nested": E(
            nested=N(name="n", value=7, child=N(name="c", children=[N(name="g1"), N(value=-5)])),
            r_nested=[N(), N(name="x")]),
        "map_single": E(labels={"key": "value"}, nested_by_name={"n": N(value=1)}, color_by_id={7: pb.COLOR_GREEN}),
        "maps": E(
            labels={"b": "2", "a": "1", "": "empty"},
            nested_by_name={"x": N(), "y": N(name="y", child=N(value=3))},
            color_by_id={-1: pb.COLOR_RED, 0: pb.COLOR_UNSPECIFIED, 5: 42}),
        "timestamps": E(
            created_at=Timestamp(seconds=1_700_000_000, nanos=500_000_000),
            r_timestamp=[Timestamp(seconds=1, nanos=125_000_000), Timestamp(seconds=-1, nanos=500_000_000), Timestamp()]),
        "oneof_text": E(choice_text="chosen"),
        "oneof_empty_text": E(choice_text=""),
        "oneof_zero_number": E(choice_number=0),
        "oneof_nested": E(choice_nested=N(name="o")),
        "enums": E(color=42, mode=pb.Everything.MODE_SAFE),
    }


def check_descriptors(directory, annotations):
    """The embedded descriptors load into a fresh pool, keep options, and carry no source info."""
    from google.protobuf import descriptor_pb2, descriptor_pool

    problems = []
    files = {}
    desc_dir = os.path.join(directory, "descriptors")
    for name in sorted(os.listdir(desc_dir)):
        fdp = descriptor_pb2.FileDescriptorProto.FromString(open(os.path.join(desc_dir, name), "rb").read())
        files[fdp.name] = fdp
        if fdp.HasField("source_code_info"):
            problems.append(f"{fdp.name}: source_code_info was not stripped")
    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(file_name):
        if file_name in added:
            return
        for dep in files[file_name].dependency:
            add(dep)
        pool.Add(files[file_name])
        added.add(file_name)

    try:
        add("nimbus/testing/v1/naming.proto")
        service = pool.FindServiceByName("nimbus.testing.v1.Echo")
        kinds = {m.name: (m.client_streaming, m.server_streaming) for m in service.methods}
        want = {"Say": (False, False), "Expand": (False, True), "Collect": (True, False), "Chat": (True, True)}
        if kinds != want:
            problems.append(f"Echo methods {kinds} != {want}")
        pool.FindMessageTypeByName("nimbus.testing.v1.Everything.Nested")
        pool.FindMessageTypeByName("nimbus.testing.v1.Keywords.Type")
    except Exception as e:  # noqa: BLE001 - any failure to load is the finding
        problems.append(f"descriptors do not load into a pool: {e!r}")

    naming = files.get("nimbus/testing/v1/naming.proto")
    if naming is None:
        problems.append("naming.proto descriptor missing")
    else:
        admin = next(s for s in naming.service if s.name == "Admin")
        reset = next(m for m in admin.method if m.name == "Reset")
        rule = reset.options.Extensions[annotations.http]
        if (rule.post, rule.body) != ("/v1/admin:reset", "*"):
            problems.append(f"Reset's google.api.http option lost: {rule}")
    return problems


def main():
    directory = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        pb, annotations = compile_protos(tmp)
        problems = []
        os.makedirs(os.path.join(directory, "python"), exist_ok=True)
        checked = 0
        for name, want in cases(pb).items():
            with open(os.path.join(directory, "python", name + ".bin"), "wb") as f:
                f.write(want.SerializeToString())
            path = os.path.join(directory, "swift", name + ".bin")
            if not os.path.exists(path):
                problems.append(f"{name}: no Swift encoding at {path}")
                continue
            data = open(path, "rb").read()
            try:
                got = pb.Everything.FromString(data)
            except Exception as e:  # noqa: BLE001
                problems.append(f"{name}: Python cannot decode the Swift bytes: {e!r}")
                continue
            if got != want:
                problems.append(f"{name}: decoded value differs\n  swift:  {got}\n  python: {want}")
            canonical = want.SerializeToString(deterministic=True)
            if name not in NOT_BYTE_COMPARABLE and data != canonical:
                problems.append(f"{name}: bytes differ\n  swift:  {data.hex()}\n  python: {canonical.hex()}")
            checked += 1
        problems += check_descriptors(directory, annotations)
    for p in problems:
        print("MISMATCH", p)
    print(f"roundtrip: {checked} cases checked, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
