"""Apex scanner throughput: files/s, MB/s and peak memory over a generated corpus of a few thousand classes.

The corpus mixes what a Salesforce org's force-app holds: services with SOQL/DML (guarded and not), @AuraEnabled
controllers, selectors with dynamic SOQL, batch classes, triggers, DTOs and test classes, from 30 to ~900 lines.
`python -m bench scanner`; set BENCH_SCANNER_FILES to change the corpus size (default 3000).
"""

from __future__ import annotations

import os
import random
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from cutover.checks.apex import ScanConfig, scan_paths

OBJECTS = ["Account", "Contact", "Opportunity", "Case", "Lead", "Compliance_Gap__c", "Audit_Log__c", "Evidence__c"]


def _method(rng: random.Random, i: int) -> str:
    obj = rng.choice(OBJECTS)
    kind = rng.randrange(8)
    if kind == 0:
        stripped = f"(List<{obj}>) Security.stripInaccessible(AccessType.READABLE, rows).getRecords()"
        return f"""
    @AuraEnabled(cacheable=true)
    public static List<{obj}> list{i}(Id parentId) {{
        List<{obj}> rows = [
            SELECT Id, Name, CreatedDate
            FROM {obj}
            WHERE OwnerId = :UserInfo.getUserId()
            {rng.choice(["WITH SECURITY_ENFORCED", "WITH USER_MODE", ""])}
            ORDER BY CreatedDate DESC
            LIMIT 200
        ];
        return {rng.choice(["rows", stripped])};
    }}
"""
    if kind == 1:
        guard = rng.choice(
            [
                f"ElaroSecurityUtils.validateCRUDAccess('{obj}', new List<String>{{'Name'}}, 'update');",
                f"if (!Schema.sObjectType.{obj}.isUpdateable()) {{ throw new SecurityException('no access'); }}",
                "",
            ]
        )
        return f"""
    public void save{i}(List<{obj}> records) {{
        {guard}
        for ({obj} r : records) {{
            r.Name = r.Name == null ? 'Unnamed' : r.Name.trim();
        }}
        {rng.choice(["update records;", "update as user records;", "Database.update(records, false);"])}
    }}
"""
    if kind == 2:
        return f"""
    public List<SObject> search{i}(String term, Integer maxRows) {{
        String soql = 'SELECT Id, Name FROM {obj}';
        soql += ' WHERE Name LIKE \\'%' + {rng.choice(["String.escapeSingleQuotes(term)", "term"])} + '%\\'';
        soql += ' WITH USER_MODE LIMIT ' + maxRows;
        return Database.query(soql);
    }}
"""
    if kind == 3:
        return f"""
    public Integer count{i}(Set<Id> ids) {{
        // SELECT Id FROM {obj} -- a comment that looks like SOQL
        Integer total = 0;
        for (AggregateResult ar : [SELECT COUNT(Id) c FROM {obj} WHERE Id IN :ids GROUP BY OwnerId]) {{
            total += (Integer) ar.get('c');
        }}
        return total;
    }}
"""
    if kind == 4:
        return f"""
    private static Map<Id, {obj}> index{i}(List<{obj}> rows) {{
        Map<Id, {obj}> byId = new Map<Id, {obj}>();
        for ({obj} row : rows) {{
            if (row.Id != null && !byId.containsKey(row.Id)) {{
                byId.put(row.Id, row);
            }} else {{
                System.debug(LoggingLevel.FINE, 'skipping ' + row);
            }}
        }}
        return byId;
    }}
"""
    if kind == 5:
        return f"""
    public void archive{i}(List<{obj}> rows) {{
        try {{
            {rng.choice(["delete rows;", "delete as user rows;", "Database.delete(rows, AccessLevel.USER_MODE);"])}
        }} catch (DmlException e) {{
            Logger.error('archive failed: ' + e.getMessage());
            throw new AuraHandledException(e.getMessage());
        }}
    }}
"""
    if kind == 6:
        return f"""
    public String describe{i}(String fieldName) {{
        Schema.DescribeFieldResult d = Schema.sObjectType.{obj}.fields.getMap().get(fieldName).getDescribe();
        switch on d.getType() {{
            when STRING, TEXTAREA {{ return 'text'; }}
            when INTEGER, DOUBLE, CURRENCY {{ return 'number'; }}
            when else {{ return d.getType().name().toLowerCase(); }}
        }}
    }}
"""
    return f"""
    public List<{obj}> recent{i}(Integer days) {{
        Datetime since = Datetime.now().addDays(-days);
        return [SELECT Id, Name FROM {obj} WHERE CreatedDate >= :since WITH SECURITY_ENFORCED LIMIT 50];
    }}
"""


def _class(rng: random.Random, n: int) -> tuple[str, str]:
    kind = rng.random()
    if kind < 0.12:
        obj = rng.choice(OBJECTS)
        body = "\n".join(
            f"""    @IsTest static void test{i}() {{
        List<{obj}> rows = new List<{obj}>();
        for (Integer k = 0; k < 20; k++) {{ rows.add(new {obj}(Name = 'x' + k)); }}
        insert rows;
        Test.startTest();
        Assert.areEqual(20, [SELECT COUNT() FROM {obj}]);
        Test.stopTest();
    }}"""
            for i in range(rng.randint(2, 12))
        )
        return f"Service{n}Test.cls", f"@IsTest\nprivate class Service{n}Test {{\n{body}\n}}\n"
    if kind < 0.20:
        obj = rng.choice(OBJECTS)
        trigger = f"""trigger {obj.replace("__c", "")}{n}Trigger on {obj} (before insert, after insert, after update) {{
    if (Trigger.isAfter) {{
        List<Audit_Log__c> logs = new List<Audit_Log__c>();
        for ({obj} r : Trigger.new) {{
            logs.add(new Audit_Log__c(Record_Id__c = r.Id, Action__c = Trigger.operationType.name()));
        }}
        {rng.choice(["insert logs;", "insert as user logs;"])}
    }}
}}
"""
        return f"T{n}.trigger", trigger
    if kind < 0.28:
        fields = "\n".join(
            f"    @AuraEnabled public String field{i} {{ get; set; }}" for i in range(rng.randint(3, 25))
        )
        return (
            f"Dto{n}.cls",
            f"public class Dto{n} {{\n{fields}\n    public class Line {{ public Decimal amount; }}\n}}\n",
        )
    sharing = rng.choice(["with sharing ", "with sharing ", "inherited sharing ", "without sharing ", ""])
    methods = "".join(_method(rng, i) for i in range(rng.randint(2, 40)))
    header = f"/**\n * Service {n}: generated for the scanner benchmark.\n */\n"
    return f"Service{n}.cls", f"{header}public {sharing}class Service{n} {{\n{methods}}}\n"


def build_corpus(root: Path, count: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    total = 0
    for n in range(count):
        name, source = _class(rng, n)
        folder = root / "force-app" / "main" / "default" / ("triggers" if name.endswith(".trigger") else "classes")
        folder.mkdir(parents=True, exist_ok=True)
        data = source.encode("utf-8")
        (folder / name).write_bytes(data)
        total += len(data)
    return total


def main() -> None:
    count = int(os.environ.get("BENCH_SCANNER_FILES", "3000"))
    with tempfile.TemporaryDirectory(prefix="bench-scanner-") as tmp:
        root = Path(tmp)
        size = build_corpus(root, count)
        lines = sum(p.read_bytes().count(b"\n") for p in root.rglob("*.*"))
        print(f"corpus: {count} files, {size / 1e6:.2f} MB, {lines} lines")
        # The corpus calls ElaroSecurityUtils (one project's helpers): name them, as that project's runbook does.
        config = ScanConfig(
            guard_methods=("ElaroSecurityUtils.validateCRUDAccess",),
            strip_methods=("ElaroSecurityUtils.stripInaccessibleFields",),
        )
        scan_paths([root / "force-app"], config, root=root)  # warm the page cache and the parser
        tracemalloc.start()
        started = time.perf_counter()
        report = scan_paths([root / "force-app"], config, root=root)
        elapsed = time.perf_counter() - started
        _, python_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        timed = time.perf_counter()
        cpu_started = time.process_time()
        scan_paths([root / "force-app"], config, root=root)
        untraced = time.perf_counter() - timed
        cpu = time.process_time() - cpu_started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"findings: {len(report.findings)}, parse errors: {len(report.errors)}")
    print(f"with tracemalloc: {elapsed:.2f} s; without: {untraced:.2f} s")
    print(
        f"throughput: {report.files / untraced:.0f} files/s, {size / 1e6 / untraced:.2f} MB/s, "
        f"{lines / untraced / 1000:.0f}k lines/s"
    )
    # On a shared machine wall time follows the load; CPU time says what the scanner itself costs.
    print(f"per CPU second: {report.files / cpu:.0f} files, {size / 1e6 / cpu:.2f} MB (CPU {cpu:.2f} s)")
    print(f"peak memory: Python heap {python_peak / 1e6:.1f} MB (tracemalloc), process max RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
