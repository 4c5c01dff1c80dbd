"""orgsim Metadata API throughput: deploy (with simulated RunLocalTests), status polling and retrieve of a large
package, driven in-process (no HTTP, no sf CLI) so the figures are orgsim's own cost.

`python -m bench orgsim_deploy` prints figures; nothing is asserted.
"""

from __future__ import annotations

import io
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

from orgsim.metadata import deploy, retrieve
from orgsim.metadata.package import package_xml
from orgsim.org import Org

META = b'<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata"><apiVersion>62.0</apiVersion><status>Active</status></ApexClass>\n'


def _class(name: str) -> bytes:
    body = "\n".join(f"        Integer v{i} = {i} * n;" for i in range(40))
    method = f"    public static Integer run(Integer n) {{\n{body}\n        return n;\n    }}\n"
    return f"public with sharing class {name} {{\n{method}}}\n".encode()


def _test(name: str) -> bytes:
    methods = "\n".join(
        f"    @isTest static void case{i}() {{ System.assert({name}.run({i}) != null); }}" for i in range(5)
    )
    return f"@isTest\nprivate class {name}Test {{\n{methods}\n}}\n".encode()


def _zip(count: int) -> bytes:
    files: dict[str, bytes] = {}
    names = []
    for index in range(count):
        name = f"Service{index:04d}"
        for cls, body in ((name, _class(name)), (f"{name}Test", _test(name))):
            files[f"classes/{cls}.cls"] = body
            files[f"classes/{cls}.cls-meta.xml"] = META
            names.append(cls)
    files["package.xml"] = package_xml({"ApexClass": names}, "62.0")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return buffer.getvalue()


def main() -> None:
    for count in (50, 250):
        with tempfile.TemporaryDirectory() as folder:
            org = Org(Path(folder), {"durations": {"deploy_seconds": 1, "validate_seconds": 1, "retrieve_seconds": 0}})
            zip_bytes = _zip(count)
            tracemalloc.start()
            started = time.perf_counter()
            job = deploy.submit(org, zip_bytes, deploy.DeployOptions(test_level="RunLocalTests"))
            planned = time.perf_counter()
            org.advance_clock(2)
            result = deploy.status(org, job)
            finished = time.perf_counter()
            polls = 20
            for _ in range(polls):
                deploy.status(org, job)
            polled = time.perf_counter()
            retrieve_id = retrieve.submit(
                org, {"apiVersion": "62.0", "version": None, "singlePackage": False, "types": {"ApexClass": ["*"]}}
            )
            retrieve.status(org, retrieve_id)
            retrieved = time.perf_counter()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"{2 * count:4d} classes ({len(zip_bytes) // 1024} KiB zip, {result['numberTestsTotal']} tests): "
                f"submit+plan {planned - started:.2f}s, apply {finished - planned:.2f}s, "
                f"status poll {(polled - finished) / polls * 1000:.1f} ms, retrieve {retrieved - polled:.2f}s, "
                f"peak Python memory {peak / 1e6:.0f} MB, status {result['status']}"
            )
            org.close()


if __name__ == "__main__":
    main()
