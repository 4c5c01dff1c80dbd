"""Each case: a small Apex file and exactly the (rule, line) findings it must produce (no more, no fewer)."""

from __future__ import annotations

from textwrap import dedent

import pytest

from cutover.checks.apex import ScanConfig, scan_source

CASES: list[tuple[str, str, list[tuple[str, int]]]] = [
    # --- soql-not-enforced -------------------------------------------------------------------------------------
    (
        "static query without enforcement",
        """
        public with sharing class A {
            public List<Account> all() {
                return [SELECT Id FROM Account];
            }
        }
        """,
        [("soql-not-enforced", 3)],
    ),
    (
        "WITH SECURITY_ENFORCED and WITH USER_MODE pass, any case",
        """
        public with sharing class A {
            void a() { List<Account> x = [SELECT Id FROM Account WITH SECURITY_ENFORCED]; }
            void b() { List<Account> y = [select id from account where name = 'x' with user_mode limit 1]; }
        }
        """,
        [],
    ),
    (
        "multi-line query with WITH clause between WHERE and ORDER BY",
        """
        public with sharing class A {
            void a(Set<Id> ids) {
                List<Account> x = [
                    SELECT Id, Name
                    FROM Account
                    WHERE Id IN :ids
                    WITH SECURITY_ENFORCED
                    ORDER BY Name
                ];
                List<Contact> y = [
                    SELECT Id
                    FROM Contact
                    WHERE AccountId IN :ids
                ];
            }
        }
        """,
        [("soql-not-enforced", 10)],
    ),
    (
        "SOQL keywords in comments and strings are not queries",
        """
        public with sharing class A {
            // SELECT Id FROM Account  -- insert x; delete y;
            /* [SELECT Id FROM Contact] update z; */
            String s = 'SELECT Id FROM Account; insert acc;';
            void a() { System.debug('[SELECT Id FROM Lead]'); }
        }
        """,
        [],
    ),
    (
        "WITH SYSTEM_MODE is reported",
        """
        public with sharing class A {
            void a() { List<Account> x = [SELECT Id FROM Account WITH SYSTEM_MODE]; }
        }
        """,
        [("soql-not-enforced", 2)],
    ),
    (
        "sub-queries are covered by the outer WITH",
        """
        public with sharing class A {
            void a() {
                List<Account> x = [SELECT Id, (SELECT Id FROM Contacts) FROM Account
                                   WHERE Id IN (SELECT AccountId FROM Contact) WITH USER_MODE];
            }
        }
        """,
        [],
    ),
    (
        "SOSL with and without WITH USER_MODE (grammar gap tolerated, no parse error)",
        """
        public with sharing class A {
            void a(String t) {
                List<List<SObject>> r = [FIND :t IN ALL FIELDS RETURNING Account(Id) WITH USER_MODE];
                List<List<SObject>> s = [FIND :t IN ALL FIELDS RETURNING Contact(Id)];
            }
        }
        """,
        [("soql-not-enforced", 4)],
    ),
    (
        "Database.query without and with AccessLevel.USER_MODE",
        """
        public with sharing class A {
            void a() {
                List<Account> x = Database.query('SELECT Id FROM Account');
                List<Account> y = Database.query('SELECT Id FROM Account', AccessLevel.USER_MODE);
                Integer n = Database.countQuery('SELECT COUNT() FROM Account');
            }
        }
        """,
        [("soql-not-enforced", 3), ("soql-not-enforced", 5)],
    ),
    (
        "dynamic query built in a variable with WITH SECURITY_ENFORCED in its literal text",
        """
        public with sharing class A {
            void a() {
                String q = 'SELECT Id FROM Account';
                q += ' WITH SECURITY_ENFORCED';
                List<Account> x = Database.query(q);
            }
        }
        """,
        [],
    ),
    (
        "AccessLevel.SYSTEM_MODE and a locator over a static query",
        """
        public with sharing class A {
            void a() {
                List<Account> x = Database.query('SELECT Id FROM Account', AccessLevel.SYSTEM_MODE);
                Database.QueryLocator l = Database.getQueryLocator([SELECT Id FROM Account]);
            }
        }
        """,
        [("soql-not-enforced", 3), ("soql-not-enforced", 4)],
    ),
    (
        "queries in field initialisers and property getters",
        """
        public with sharing class A {
            static List<Account> cache = [SELECT Id FROM Account];
            public Integer total { get { return [SELECT COUNT() FROM Account WITH USER_MODE]; } }
        }
        """,
        [("soql-not-enforced", 2)],
    ),
    # --- dml-without-crud-check ---------------------------------------------------------------------------------
    (
        "each DML verb without a guard",
        """
        public with sharing class A {
            void a(List<Account> r) {
                insert r;
                update r;
                upsert r;
                delete r;
                undelete r;
            }
        }
        """,
        [("dml-without-crud-check", n) for n in (3, 4, 5, 6, 7)],
    ),
    (
        "Database DML methods without a guard, and with AccessLevel.USER_MODE",
        """
        public with sharing class A {
            void a(List<Account> r) {
                Database.insert(r, false);
                Database.update(r, AccessLevel.USER_MODE);
                Database.delete(r, false, AccessLevel.USER_MODE);
                Database.undelete(r);
            }
        }
        """,
        [("dml-without-crud-check", 3), ("dml-without-crud-check", 6)],
    ),
    (
        "as user passes, as system does not",
        """
        public with sharing class A {
            void a(List<Account> r) {
                insert as user r;
                update as system r;
            }
        }
        """,
        [("dml-without-crud-check", 4)],
    ),
    (
        "runbook guard method before the DML",
        """
        public with sharing class A {
            void a(List<Account> r) {
                ElaroSecurityUtils.validateCRUDAccess('Account', new List<String>{'Name'}, 'create');
                insert r;
            }
        }
        """,
        [],
    ),
    (
        "guard after the DML does not count (source order)",
        """
        public with sharing class A {
            void a(List<Account> r) {
                insert r;
                ElaroSecurityUtils.validateCRUDAccess('Account', new List<String>{'Name'}, 'create');
                update r;
            }
        }
        """,
        [("dml-without-crud-check", 3)],
    ),
    (
        "Schema describe checks guard the DML",
        """
        public with sharing class A {
            void a(List<Account> r) {
                if (!Schema.sObjectType.Account.isCreateable()) { throw new AuraHandledException('no'); }
                insert r;
            }
            void b(Account x) {
                if (Account.SObjectType.getDescribe().isDeletable()) { delete x; }
            }
        }
        """,
        [],
    ),
    (
        "Security.stripInaccessible inside the DML statement guards it",
        """
        public with sharing class A {
            void a(List<Account> r) {
                insert Security.stripInaccessible(AccessType.CREATABLE, r).getRecords();
            }
        }
        """,
        [],
    ),
    (
        "a guard in a same-class helper counts, an unrelated helper does not",
        """
        public with sharing class A {
            private static void check() { ElaroSecurityUtils.validateCRUDAccess('Account', null, 'update'); }
            private static void log() { System.debug('x'); }
            void a(List<Account> r) { check(); update r; }
            void b(List<Account> r) { log(); update r; }
        }
        """,
        [("dml-without-crud-check", 5)],
    ),
    (
        "mutually recursive helpers without a guard terminate and do not count",
        """
        public with sharing class A {
            void ping(List<Account> r) { pong(r); update r; }
            void pong(List<Account> r) { if (r.isEmpty()) { ping(r); } }
            void guarded(List<Account> r) { outer(); delete r; }
            void outer() { inner(); }
            void inner() { ElaroSecurityUtils.validateCRUDAccess('Account', null, 'delete'); outer(); }
        }
        """,
        [("dml-without-crud-check", 2)],
    ),
    (
        "a private helper called only after guards is covered; a public one, or one also called unguarded, is not",
        """
        public with sharing class A {
            public void save(List<Account> r) { ElaroSecurityUtils.validateCRUDAccess('Account', null, 'u'); write(r); }
            public void saveToo(List<Account> r) { if (Account.SObjectType.getDescribe().isUpdateable()) { write(r); } }
            private void write(List<Account> r) { update r; }
            void writeDefaultPrivate(List<Account> r) { update r; }
            public void careless(List<Account> r) { writeDefaultPrivate(r); }
            public void guardedToo(List<Account> r) { ElaroSecurityUtils.validateCRUDAccess('A', null, 'u'); pub(r); }
            public void pub(List<Account> r) { update r; }
            private void unused(List<Account> r) { update r; }
        }
        """,
        [("dml-without-crud-check", 5), ("dml-without-crud-check", 8), ("dml-without-crud-check", 9)],
    ),
    (
        "a guard in another method does not protect this one",
        """
        public with sharing class A {
            void a() { Boolean ok = Schema.sObjectType.Account.isUpdateable(); }
            void b(List<Account> r) { update r; }
        }
        """,
        [("dml-without-crud-check", 3)],
    ),
    (
        "configured guard method replaces the default",
        """
        public with sharing class A {
            void a(List<Account> r) { SecurityGate.assertCanWrite(r); insert r; }
            void b(List<Account> r) { ElaroSecurityUtils.validateCRUDAccess('Account', null, 'create'); insert r; }
        }
        """,
        [("dml-without-crud-check", 3)],
    ),
    (
        "trigger DML",
        """
        trigger AccountTrigger on Account (after insert) {
            List<Contact> cs = new List<Contact>();
            insert cs;
        }
        """,
        [("dml-without-crud-check", 3)],
    ),
    (
        "a cutover:ignore comment silences one statement (triggers cannot carry annotations)",
        """
        trigger AuditTrigger on Account (after update) {
            // cutover:ignore dml-without-crud-check -- the audit log is written in system context on purpose
            insert new Audit_Log__c(Action__c = 'update');
            insert new Audit_Log__c(Action__c = 'again'); // cutover:ignore dml-without-crud-check
            update Trigger.new;
            delete [SELECT Id FROM Audit_Log__c LIMIT 1]; /* cutover:ignore */
            insert new Audit_Log__c(); // cutover:ignore soql-not-enforced
        }
        """,
        [("dml-without-crud-check", 5), ("dml-without-crud-check", 7)],
    ),
    (
        "trigger DML guarded by a describe check",
        """
        trigger AccountTrigger on Account (after insert) {
            if (Schema.sObjectType.Contact.isCreateable()) { insert new Contact(LastName = 'x'); }
        }
        """,
        [],
    ),
    # --- aura-without-strip -------------------------------------------------------------------------------------
    (
        "aura method returns a local from an unenforced query",
        """
        public with sharing class A {
            @AuraEnabled(cacheable=true)
            public static List<Account> get() {
                List<Account> rows = [SELECT Id, Name FROM Account];
                return rows;
            }
        }
        """,
        [("soql-not-enforced", 4), ("aura-without-strip", 5)],
    ),
    (
        "aura method returns Security.stripInaccessible(...).getRecords()",
        """
        public with sharing class A {
            @AuraEnabled
            public static List<Account> get() {
                List<Account> rows = [SELECT Id, Name FROM Account];
                SObjectAccessDecision d = Security.stripInaccessible(AccessType.READABLE, rows);
                return (List<Account>) d.getRecords();
            }
        }
        """,
        [("soql-not-enforced", 4)],
    ),
    (
        "aura method strips with the runbook's strip method",
        """
        public with sharing class A {
            @AuraEnabled
            public static List<Account> get() {
                List<Account> rows = [SELECT Id, Name FROM Account];
                rows = (List<Account>) ElaroSecurityUtils.stripInaccessibleFields(AccessType.READABLE, rows);
                return rows;
            }
            @AuraEnabled
            public static List<Account> get2() {
                List<Account> rows = [SELECT Id, Name FROM Account];
                ElaroSecurityUtils.stripInaccessibleFields(AccessType.READABLE, rows);
                return rows;
            }
        }
        """,
        [("soql-not-enforced", 4), ("soql-not-enforced", 10)],
    ),
    (
        "aura method with a USER_MODE query passes",
        """
        public with sharing class A {
            @AuraEnabled
            public static List<Account> get() { return [SELECT Id FROM Account WITH USER_MODE]; }
        }
        """,
        [],
    ),
    (
        "aura method returning records from another class's method",
        """
        public with sharing class A {
            @AuraEnabled
            public static List<Account> get() { List<Account> r = AccountSelector.all(); return r; }
            @AuraEnabled
            public static String name() { return AccountSelector.firstName(); }
        }
        """,
        [("aura-without-strip", 3)],
    ),
    (
        "aura method through a same-class helper with an unenforced query",
        """
        public with sharing class A {
            private static List<Account> load() { return [SELECT Id FROM Account]; }
            private static List<Account> safeLoad() { return [SELECT Id FROM Account WITH SECURITY_ENFORCED]; }
            @AuraEnabled public static List<Account> get() { return load(); }
            @AuraEnabled public static List<Account> getSafe() { return safeLoad(); }
        }
        """,
        [("soql-not-enforced", 2), ("aura-without-strip", 4)],
    ),
    (
        "aura void and non-aura methods are not checked for stripping",
        """
        public with sharing class A {
            @AuraEnabled public static void save(Account a) { insert as user a; }
            public static List<Account> get() { return [SELECT Id FROM Account WITH USER_MODE]; }
        }
        """,
        [],
    ),
    (
        "aura method returning map values from a query, and a ternary with one unenforced branch",
        """
        public with sharing class A {
            @AuraEnabled
            public static List<Contact> byAccount(Boolean all) {
                Map<Id, Contact> rows = new Map<Id, Contact>([SELECT Id FROM Contact WITH SECURITY_ENFORCED]);
                return all ? rows.values() : [SELECT Id FROM Contact LIMIT 5];
            }
        }
        """,
        [("soql-not-enforced", 5), ("aura-without-strip", 5)],
    ),
    (
        "aura method returning dynamic query results, with and without USER_MODE",
        """
        public with sharing class A {
            @AuraEnabled
            public static List<SObject> open(Integer n) {
                return Database.query('SELECT Id FROM Case LIMIT ' + n);
            }
            @AuraEnabled
            public static List<SObject> safe(Integer n) {
                return Database.query('SELECT Id FROM Case LIMIT ' + n, AccessLevel.USER_MODE);
            }
        }
        """,
        [("soql-not-enforced", 4), ("aura-without-strip", 4)],
    ),
    (
        "aura method filling a list in a loop over an unenforced query; the same over a stripped list is fine",
        """
        public with sharing class A {
            @AuraEnabled
            public static List<Account> big() {
                List<Account> result = new List<Account>();
                for (Account a : [SELECT Id, AnnualRevenue FROM Account]) {
                    if (a.AnnualRevenue > 1000) { result.add(a); }
                }
                return result;
            }
            @AuraEnabled
            public static List<Account> bigSafe() {
                List<Account> result = new List<Account>();
                List<Account> rows = Security.stripInaccessible(AccessType.READABLE, [SELECT Id FROM Account])
                    .getRecords();
                for (Account a : rows) { result.add(a); }
                return result;
            }
        }
        """,
        [("soql-not-enforced", 5), ("aura-without-strip", 8), ("soql-not-enforced", 13)],
    ),
    # --- soql-injection -----------------------------------------------------------------------------------------
    (
        "string parameter concatenated into Database.query",
        """
        public with sharing class A {
            List<Account> find(String name) {
                return Database.query('SELECT Id FROM Account WHERE Name = \\'' + name + '\\' WITH USER_MODE');
            }
        }
        """,
        [("soql-injection", 3)],
    ),
    (
        "escaped, bound and safe-typed values are fine",
        """
        public with sharing class A {
            List<Account> find(String name, Integer max, Id ownerId, Date since) {
                String q = 'SELECT Id FROM Account WHERE Name = \\'' + String.escapeSingleQuotes(name) + '\\'';
                q += ' AND OwnerId = \\'' + ownerId + '\\' AND CreatedDate > ' + since;
                q += ' AND Name != :name WITH USER_MODE LIMIT ' + max;
                return Database.query(q);
            }
        }
        """,
        [],
    ),
    (
        "injection through a local built with += over several lines",
        """
        public with sharing class A {
            List<Account> find(String field, String value) {
                String q = 'SELECT Id FROM Account';
                q += ' WHERE ' + field;
                q += ' = \\'' + String.escapeSingleQuotes(value) + '\\'';
                return Database.query(q, AccessLevel.USER_MODE);
            }
        }
        """,
        [("soql-injection", 4)],
    ),
    (
        "the whole query string is a parameter",
        """
        public with sharing class A {
            List<SObject> run(String soql) { return Database.query(soql, AccessLevel.USER_MODE); }
        }
        """,
        [("soql-injection", 2)],
    ),
    (
        "string fields and a non-final field are unsafe; final constants are safe",
        """
        public with sharing class A {
            private static final String BASE = 'SELECT Id FROM Account WITH USER_MODE';
            private String filter;
            List<Account> run(Account acc) {
                List<Account> a = Database.query(BASE + ' LIMIT 10');
                List<Account> b = Database.query(BASE + filter);
                return Database.query(BASE + ' WHERE Name = \\'' + acc.Name + '\\'');
            }
        }
        """,
        [("soql-injection", 6), ("soql-injection", 7)],
    ),
    (
        "queryWithBinds and a helper that escapes",
        """
        public with sharing class A {
            private static String clause(String v) {
                return ' WHERE Name = \\'' + String.escapeSingleQuotes(v) + '\\'';
            }
            private static String raw(String v) { return ' WHERE Name = \\'' + v + '\\''; }
            void run(String v) {
                Database.queryWithBinds('SELECT Id FROM Account WHERE Name = :v', new Map<String, Object>{'v' => v},
                    AccessLevel.USER_MODE);
                List<Account> a = Database.query('SELECT Id FROM Account' + clause(v), AccessLevel.USER_MODE);
                List<Account> b = Database.query('SELECT Id FROM Account' + raw(v), AccessLevel.USER_MODE);
            }
        }
        """,
        [("soql-injection", 10)],
    ),
    (
        "String.join over a list of unescaped values, and over describe names",
        """
        public with sharing class A {
            void run(List<String> userFields) {
                List<String> safe = new List<String>();
                for (Schema.SObjectField f : Schema.SObjectType.Account.fields.getMap().values()) {
                    safe.add(f.getDescribe().getName());
                }
                List<Account> a = Database.query('SELECT ' + String.join(safe, ',') + ' FROM Account WITH USER_MODE');
                String fields = String.join(userFields, ',');
                List<Account> b = Database.query('SELECT ' + fields + ' FROM Account WITH USER_MODE');
            }
        }
        """,
        [("soql-injection", 9)],  # reported where `fields` is concatenated, naming userFields as the source
    ),
    (
        "Database.getQueryLocator with a concatenated string in a batch start()",
        """
        public with sharing class Batch implements Database.Batchable<SObject> {
            private String whereClause;
            public Database.QueryLocator start(Database.BatchableContext bc) {
                return Database.getQueryLocator('SELECT Id FROM Account WITH USER_MODE ' + whereClause);
            }
            public void execute(Database.BatchableContext bc, List<SObject> scope) { }
            public void finish(Database.BatchableContext bc) { }
        }
        """,
        [("soql-injection", 4)],
    ),
    (
        "record Ids, sizes, today's date, the user's Id and methods on safe-typed values are not injection",
        """
        public with sharing class A {
            List<Account> run(Account acc, List<String> names, Date since) {
                String q = 'SELECT Id FROM Contact WHERE AccountId = \\'' + acc.Id + '\\' LIMIT ' + names.size();
                q += ' AND OwnerId = \\'' + UserInfo.getUserId() + '\\' AND CreatedDate > ' + since.format();
                q += ' AND LastModifiedDate < ' + Date.today() + ' AND Name = \\'' + acc.Name + '\\'';
                return Database.query(q, AccessLevel.USER_MODE);
            }
        }
        """,
        [("soql-injection", 5)],
    ),
    (
        "a loop variable over a caller's list is as unsafe as the list; over Ids it is safe",
        """
        public with sharing class A {
            List<SObject> pick(List<String> fields, Set<Id> ids) {
                String q = 'SELECT Id';
                for (String f : fields) { q += ', ' + f; }
                q += ' FROM Account WHERE Id IN (';
                for (Id i : ids) { q += '\\'' + i + '\\','; }
                return Database.query(q.removeEnd(',') + ') WITH USER_MODE');
            }
        }
        """,
        [("soql-injection", 4)],
    ),
    # --- sharing-not-declared -----------------------------------------------------------------------------------
    (
        "top-level class without sharing keyword",
        """
        public class NoSharing {
            public void a() { }
        }
        """,
        [("sharing-not-declared", 1)],
    ),
    (
        "without sharing and inherited sharing are declarations",
        """
        public without sharing class A { }
        """,
        [],
    ),
    (
        "inner classes: DTO ignored, inner class with DML reported; exceptions ignored",
        """
        public inherited sharing class Outer {
            public class Row { public String name; }
            public class Writer { void w(Account a) { insert as user a; } }
            public class OuterException extends Exception { }
        }
        """,
        [("sharing-not-declared", 3)],
    ),
    (
        "a subclass inherits the sharing mode of a parent in the same file",
        """
        public with sharing virtual class Base { }
        public class Child extends Base { }
        public class Orphan extends MissingBase { }
        """,
        [("sharing-not-declared", 3)],
    ),
    (
        "abstract and global classes need a sharing keyword; interfaces, enums and triggers do not",
        """
        global abstract class Base { }
        public interface Greeter { String greet(); }
        public enum Level { LOW, HIGH }
        public virtual with sharing class Fine { }
        """,
        [("sharing-not-declared", 1)],
    ),
    (
        "an Exception subclass is reported only when it touches records",
        """
        public class QuietException extends Exception { }
        public class LoudException extends Exception {
            public void log() { insert as user new Audit_Log__c(); }
        }
        """,
        [("sharing-not-declared", 2)],
    ),
    # --- test classes, suppression ------------------------------------------------------------------------------
    (
        "test classes and test methods are skipped",
        """
        @IsTest
        private class ATest {
            @IsTest static void t() { insert new Account(Name = 'x'); List<Account> a = [SELECT Id FROM Account]; }
        }
        """,
        [],
    ),
    (
        "a test method in a normal class is skipped, its siblings are not",
        """
        public with sharing class A {
            static testMethod void legacy() { insert new Account(); }
            void real() { insert new Account(); }
        }
        """,
        [("dml-without-crud-check", 3)],
    ),
    (
        "suppression on a method, on a class (also covering inner classes), and 'cutover' for all",
        """
        @SuppressWarnings('cutover:sharing-not-declared')
        public class A {
            @SuppressWarnings('cutover:soql-not-enforced, cutover:dml-without-crud-check')
            void a() { delete [SELECT Id FROM Account]; }
            void b() { delete [SELECT Id FROM Account]; }
            @SuppressWarnings('cutover')
            void c(String n) { List<Account> x = Database.query('SELECT Id FROM Account WHERE Name = ' + n); }
            @SuppressWarnings('PMD.ApexCRUDViolation')
            void d() { update new Account(); }
            public class Inner { void e() { update new Account(); } }
        }
        """,
        [
            ("dml-without-crud-check", 5),
            ("soql-not-enforced", 5),
            ("dml-without-crud-check", 9),
            ("dml-without-crud-check", 10),
        ],
    ),
]


def _findings(source: str, config: ScanConfig | None = None) -> list[tuple[str, int]]:
    report = scan_source(dedent(source).strip("\n") + "\n", "Case.cls", config)
    return sorted((f.rule, f.line) for f in report.findings)


@pytest.mark.parametrize(("source", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_case(source: str, expected: list[tuple[str, int]]) -> None:
    config = ScanConfig(
        guard_methods=("ElaroSecurityUtils.validateCRUDAccess",),
        strip_methods=("ElaroSecurityUtils.stripInaccessibleFields",),
    )
    if "SecurityGate" in source:
        config = ScanConfig(guard_methods=("SecurityGate.assertCanWrite",))
    assert _findings(source, config) == sorted(expected)


def test_there_are_enough_cases_for_every_rule() -> None:
    assert len(CASES) >= 40
    for rule in ("soql-not-enforced", "dml-without-crud-check", "aura-without-strip", "soql-injection"):
        positives = [c for c in CASES if any(r == rule for r, _ in c[2])]
        assert len(positives) >= 4, rule
