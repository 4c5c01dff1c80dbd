# ruff: noqa: E501  (Apex samples keep their real line shapes)
"""Issue 7's precision cases: what real code does safely is not a finding, and the unsafe twin of each still is.

Each case: a small class (always `with sharing`) and exactly the (rule, line) findings it must produce. The
config is the generic default (no guard methods) unless the source mentions AcmeSecurity.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from cutover.checks.apex import ScanConfig, scan_paths, scan_source

CASES: list[tuple[str, str, list[tuple[str, int]]]] = [
    # --- soql-injection: type-safe values ----------------------------------------------------------------------
    (
        "scalars concatenated into dynamic SOQL are safe, a String is not",
        """
        public with sharing class A {
            public List<SObject> q(Integer i, Long l, Decimal d, Double x, Id recId, Boolean b, Date dt,
                                   Datetime ts, String name) {
                String soql = 'SELECT Id FROM Account WHERE NumberOfEmployees > ' + i + ' AND Big__c = ' + l
                    + ' AND AnnualRevenue > ' + d + ' AND Score__c < ' + x + ' AND Id != \\'' + recId + '\\''
                    + ' AND IsActive__c = ' + b + ' AND CreatedDate > ' + dt + ' AND LastModifiedDate < ' + ts
                    + ' AND Name = \\'' + name + '\\' WITH USER_MODE';
                return Database.query(soql);
            }
        }
        """,
        [("soql-injection", 7)],
    ),
    (
        "lists and sets of Ids and Integers are safe",
        """
        public with sharing class A {
            public List<SObject> q(List<Id> ids, Set<Integer> sizes, List<String> names) {
                String a = 'SELECT Id FROM Account WHERE Id IN (\\'' + String.join(ids, '\\',\\'') + '\\')';
                String b = 'SELECT Id FROM Account WHERE NumberOfEmployees IN ' + sizes + ' WITH USER_MODE';
                String c = 'SELECT Id FROM Account WHERE Name IN (\\'' + String.join(names, '\\',\\'') + '\\')';
                Database.query(a + ' WITH USER_MODE');
                Database.query(b);
                return Database.query(c + ' WITH USER_MODE');
            }
        }
        """,
        [("soql-injection", 8)],  # a local is reported where it is concatenated into the query (c + ...)
    ),
    (
        "Schema.SObjectType and Schema.SObjectField values, tokens and describe names are safe",
        """
        public with sharing class A {
            public List<SObject> q(Schema.SObjectType objType, Schema.SObjectField field, SObjectType other,
                                   List<Schema.SObjectField> fields, Account acc) {
                String soql = 'SELECT ' + field + ', ' + fields + ' FROM ' + objType + ' WHERE Id != null';
                soql += ' AND Type__c = \\'' + other + '\\' AND Name != \\'' + Account.Name + '\\'';
                soql += ' AND Kind__c != \\'' + Account.SObjectType + '\\' AND X__c != \\'' + Invoice__c.Amount__c + '\\'';
                soql += ' AND Obj__c != \\'' + Schema.SObjectType.Account.getName() + '\\'';
                soql += ' AND Obj2__c != \\'' + objType.getDescribe().getName() + '\\'';
                soql += ' AND F__c != \\'' + field.getDescribe().getName() + '\\'';
                soql += ' AND T__c != \\'' + acc.getSObjectType() + '\\' AND Id != \\'' + acc.Id + '\\'';
                soql += ' AND Name != \\'' + acc.Name + '\\'';
                return Database.query(soql + ' WITH USER_MODE');
            }
        }
        """,
        [("soql-injection", 12)],  # soql, at its use; the message names acc.Name on line 11
    ),
    (
        "field names from describe maps and field sets are safe, values from an ordinary map are not",
        """
        public with sharing class A {
            public List<SObject> q(Map<String, String> filters) {
                Map<String, Schema.SObjectField> fieldMap = Schema.SObjectType.Account.fields.getMap();
                List<String> names = new List<String>();
                for (String f : fieldMap.keySet()) { names.add(f); }
                for (String g : Schema.getGlobalDescribe().keySet()) { names.add(g); }
                for (Schema.FieldSetMember m : SObjectType.Account.fieldSets.Summary.getFields()) {
                    names.add(m.getFieldPath());
                }
                String soql = 'SELECT ' + String.join(names, ',') + ' FROM Account WITH USER_MODE';
                Database.query(soql);
                for (String key : filters.keySet()) { soql += ' AND ' + key + ' = \\'x\\''; }
                return Database.query(soql);
            }
        }
        """,
        [("soql-injection", 12)],
    ),
    (
        "String.valueOf of an Integer is safe, of a String it is not",
        """
        public with sharing class A {
            public List<SObject> q(Integer n, String s) {
                Database.query('SELECT Id FROM Account WITH USER_MODE LIMIT ' + String.valueOf(n));
                return Database.query('SELECT Id FROM Account WHERE Name = \\'' + String.valueOf(s) + '\\' WITH USER_MODE');
            }
        }
        """,
        [("soql-injection", 4)],
    ),
    (
        "enums of the same file: values, variables and name() are safe",
        """
        public with sharing class A {
            public enum Stage { OPEN, CLOSED, Pending }
            public List<SObject> q(Stage s, String raw) {
                String soql = 'SELECT Id FROM Case WHERE Status = \\'' + s + '\\' OR Status = \\'' + s.name() + '\\'';
                soql += ' OR Status = \\'' + Stage.OPEN + '\\' OR Status = \\'' + Stage.Pending + '\\'';
                soql += ' OR Origin = \\'' + Trigger.operationType.name() + '\\' OR Id != ' + s.ordinal();
                soql += ' OR Subject = \\'' + raw + '\\'';
                return Database.query(soql + ' WITH USER_MODE');
            }
        }
        """,
        [("soql-injection", 8)],  # soql, at its use; the message names raw on line 7
    ),
    (
        "String.escapeSingleQuotes is safe; the raw value next to it is not",
        """
        public with sharing class A {
            public List<SObject> q(String term) {
                String safeTerm = String.escapeSingleQuotes(term);
                Database.query('SELECT Id FROM Account WHERE Name LIKE \\'%' + safeTerm + '%\\' WITH USER_MODE');
                Database.query('SELECT Id FROM Account WHERE Name = \\'' + String.escapeSingleQuotes(term.trim()) + '\\' WITH USER_MODE');
                return Database.query('SELECT Id FROM Account WHERE Name = \\'' + term + '\\' WITH USER_MODE');
            }
        }
        """,
        [("soql-injection", 6)],
    ),
    (
        "a bound :variable in the query string is safe",
        """
        public with sharing class A {
            public List<SObject> q(String name, Set<Id> ids) {
                String soql = 'SELECT Id FROM Account WHERE Name = :name AND Id IN :ids WITH USER_MODE';
                Database.query(soql);
                return Database.queryWithBinds(
                    'SELECT Id FROM Contact WHERE LastName = :last WITH USER_MODE',
                    new Map<String, Object>{ 'last' => name },
                    AccessLevel.USER_MODE
                );
            }
        }
        """,
        [],
    ),
    (
        "the null-coalescing operator: both sides are traced",
        """
        public with sharing class A {
            public List<SObject> q(String name, Integer n) {
                Database.query('SELECT Id FROM Account WITH USER_MODE LIMIT ' + (n ?? 10));
                return Database.query('SELECT Id FROM Account WHERE Name = \\'' + (name ?? 'none') + '\\' WITH USER_MODE');
            }
        }
        """,
        [("soql-injection", 4)],
    ),
    (
        "Database.getCursor is dynamic SOQL like Database.query",
        """
        public with sharing class A {
            public List<Contact> page(String lastName, Integer offset) {
                Database.Cursor c = Database.getCursor('SELECT Id FROM Contact WHERE LastName = \\'' + lastName + '\\'');
                Database.Cursor ok = Database.getCursor('SELECT Id FROM Contact WITH USER_MODE LIMIT ' + offset);
                return c.fetch(offset, 200);
            }
        }
        """,
        [("soql-injection", 3), ("soql-not-enforced", 3)],
    ),
    # --- dml-without-crud-check: what counts as a check ----------------------------------------------------------
    (
        "describe checks in every spelling count before the DML they guard",
        """
        public with sharing class A {
            public void a(Account acc) {
                if (acc.getSObjectType().getDescribe().isCreateable()) { insert acc; }
            }
            public void b(List<Contact> cs) {
                if (!Schema.SObjectType.Contact.isUpdateable()) { throw new NoAccessException(); }
                update cs;
            }
            public void c(List<Lead> ls) {
                if (Schema.getGlobalDescribe().get('Lead').getDescribe().isDeletable()) { delete ls; }
            }
            public void d(List<Case> cs) {
                if (Case.SObjectType.getDescribe().isAccessible()) { update cs; }
            }
            public void e(List<Case> cs) { insert cs; }
        }
        """,
        [("dml-without-crud-check", 15)],
    ),
    (
        "the runbook's guard method counts; without it configured, the call is just a call",
        """
        public with sharing class A {
            public void a(List<Account> accs) {
                AcmeSecurity.checkCrud(Account.SObjectType, 'create');
                insert accs;
            }
            public void b(List<Account> accs) {
                AcmeSecurity.audit(accs);
                insert accs;
            }
        }
        """,
        [("dml-without-crud-check", 8)],
    ),
    (
        "stripInaccessible(CREATABLE) on the records and user-mode DML count",
        """
        public with sharing class A {
            public void a(List<Account> accs) {
                SObjectAccessDecision decision = Security.stripInaccessible(AccessType.CREATABLE, accs);
                insert decision.getRecords();
            }
            public void b(List<Account> accs) {
                insert Security.stripInaccessible(AccessType.CREATABLE, accs).getRecords();
                insert as user accs;
                Database.insert(accs, AccessLevel.USER_MODE);
                Database.update(accs, false, AccessLevel.USER_MODE);
            }
            public void c(List<Account> accs) { Database.insert(accs, AccessLevel.SYSTEM_MODE); }
        }
        """,
        [("dml-without-crud-check", 12)],
    ),
    (
        "an upsert needs both the create and the update check",
        """
        public with sharing class A {
            public void createOnly(List<Account> a) { if (Account.SObjectType.getDescribe().isCreateable()) { upsert a; } }
            public void updateOnly(List<Account> a) { if (Schema.sObjectType.Account.isUpdateable()) { upsert a; } }
            public void both(List<Account> a) {
                if (Schema.sObjectType.Account.isCreateable() && Schema.sObjectType.Account.isUpdateable()) {
                    upsert a Account.External_Id__c;
                }
            }
            public void stripped(List<Account> a) {
                upsert Security.stripInaccessible(AccessType.UPSERTABLE, a).getRecords();
            }
            public void strippedCreate(List<Account> a) {
                Database.upsert(Security.stripInaccessible(AccessType.CREATABLE, a).getRecords());
            }
            public void userMode(List<Account> a) { upsert as user a; }
            public void guarded(List<Account> a) { AcmeSecurity.checkCrud(Account.SObjectType, 'upsert'); upsert a; }
        }
        """,
        [("dml-without-crud-check", 2), ("dml-without-crud-check", 3), ("dml-without-crud-check", 13)],
    ),
    (
        "publishing platform events is not DML",
        """
        public with sharing class A {
            public void a(List<Order_Shipped__e> events) {
                List<Database.SaveResult> results = EventBus.publish(events);
                EventBus.publish(new Order_Shipped__e(Order_Id__c = '42'));
            }
        }
        """,
        [],
    ),
    # --- aura-without-strip ------------------------------------------------------------------------------------
    (
        "Security.stripInaccessible on query results counts as stripping",
        """
        public with sharing class A {
            @AuraEnabled(cacheable=true)
            public static List<Account> stripped() {
                List<Account> rows = [SELECT Id, Name FROM Account]; // cutover:ignore soql-not-enforced
                return (List<Account>) Security.stripInaccessible(AccessType.READABLE, rows).getRecords();
            }
            @AuraEnabled(cacheable=true)
            public static List<Account> strippedLater() {
                List<Account> rows = [SELECT Id, Name FROM Account]; // cutover:ignore soql-not-enforced
                SObjectAccessDecision d = Security.stripInaccessible(AccessType.READABLE, rows);
                return (List<Account>) d.getRecords();
            }
            @AuraEnabled(cacheable=true)
            public static List<Account> raw() {
                List<Account> rows = [SELECT Id, Name FROM Account]; // cutover:ignore soql-not-enforced
                return rows;
            }
        }
        """,
        [("aura-without-strip", 16)],
    ),
]


def _findings(source: str) -> list[tuple[str, int]]:
    config = ScanConfig(guard_methods=("AcmeSecurity.checkCrud",)) if "AcmeSecurity" in source else ScanConfig()
    report = scan_source(dedent(source).strip("\n") + "\n", "Case.cls", config)
    assert report.errors == (), report.errors
    return sorted((f.rule, f.line) for f in report.findings)


@pytest.mark.parametrize(("source", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_precision_case(source: str, expected: list[tuple[str, int]]) -> None:
    assert _findings(source) == sorted(expected)


def test_a_local_is_reported_at_its_use_naming_the_unsafe_part() -> None:
    source = dedent(next(c[1] for c in CASES if c[0].startswith("Schema.SObjectType"))).strip("\n") + "\n"
    [finding] = scan_source(source, "A.cls").findings
    assert "acc.Name" in finding.message and "line 11" in finding.message, finding.message


def test_every_case_has_an_unsafe_twin_except_the_pure_negatives() -> None:
    positives = [c for c in CASES if c[2]]
    assert len(positives) >= len(CASES) - 3


def test_enums_of_other_files_are_safe_when_scanned_together(tmp_path: Path) -> None:
    (tmp_path / "Priority.cls").write_text("public enum Priority { LOW, HIGH }\n", encoding="utf-8")
    selector = """public with sharing class Selector {
    public List<Case> byPriority(Priority p, String other) {
        Database.query('SELECT Id FROM Case WHERE Priority = \\'' + p + '\\' WITH USER_MODE');
        return Database.query('SELECT Id FROM Case WHERE Subject = \\'' + other + '\\' WITH USER_MODE');
    }
}
"""
    (tmp_path / "Selector.cls").write_text(selector, encoding="utf-8")
    together = scan_paths([tmp_path], root=tmp_path)
    assert [(f.file, f.rule, f.line) for f in together.findings] == [("Selector.cls", "soql-injection", 4)]
    alone = scan_source(selector, "Selector.cls")  # without Priority.cls, p could be any class's toString()
    assert [(f.rule, f.line) for f in alone.findings] == [("soql-injection", 3), ("soql-injection", 4)]
