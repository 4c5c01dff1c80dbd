# ruff: noqa: E501  (Apex samples keep their real line shapes)
"""Realistic Apex written for these tests (no third-party code): the shapes a ~140-class app holds.

A trigger handler framework, selectors with dynamic SOQL built from describes, a service that publishes platform
events, a DataWeave transformation, a queueable, a batch, a REST resource, an invocable action, enums, interfaces,
generics, inner classes, `switch on`, `?.`, `??`, properties, a test class. Every finding a scan of these files
must produce is listed in EXPECTED (file, rule, line): the deliberate mistakes are marked `// MISTAKE`.
"""

from __future__ import annotations

SAMPLES: dict[str, str] = {
    "classes/TriggerHandler.cls": """/**
 * Base class of every trigger handler: dispatch on the operation, recursion guard.
 */
public inherited sharing virtual class TriggerHandler {
    private static Map<String, Integer> loopCounts = new Map<String, Integer>();
    @TestVisible private static Set<String> bypassed = new Set<String>();

    public void run() {
        String name = String.valueOf(this).substringBefore(':');
        if (bypassed.contains(name) || !Trigger.isExecuting) { return; }
        Integer count = (loopCounts.get(name) ?? 0) + 1;
        loopCounts.put(name, count);
        switch on Trigger.operationType {
            when BEFORE_INSERT { beforeInsert(Trigger.new); }
            when BEFORE_UPDATE { beforeUpdate(Trigger.new, Trigger.oldMap); }
            when AFTER_INSERT { afterInsert(Trigger.new); }
            when AFTER_UPDATE { afterUpdate(Trigger.new, Trigger.oldMap); }
            when else { }
        }
    }

    protected virtual void beforeInsert(List<SObject> records) { }
    protected virtual void beforeUpdate(List<SObject> records, Map<Id, SObject> oldMap) { }
    protected virtual void afterInsert(List<SObject> records) { }
    protected virtual void afterUpdate(List<SObject> records, Map<Id, SObject> oldMap) { }

    public static void bypass(String handlerName) { bypassed.add(handlerName); }
}
""",
    "classes/OrderTriggerHandler.cls": """public class OrderTriggerHandler extends TriggerHandler {
    protected override void beforeInsert(List<SObject> records) {
        for (Order__c o : (List<Order__c>) records) {
            o.Status__c = o.Status__c ?? OrderStatus.DRAFT.name();
            o.Customer_Name__c = o.Account__r?.Name?.trim();
        }
    }

    protected override void afterUpdate(List<SObject> records, Map<Id, SObject> oldMap) {
        List<Order_Shipped__e> events = new List<Order_Shipped__e>();
        for (Order__c o : (List<Order__c>) records) {
            Order__c previous = (Order__c) oldMap.get(o.Id);
            if (o.Status__c == 'Shipped' && previous?.Status__c != 'Shipped') {
                events.add(new Order_Shipped__e(Order_Id__c = o.Id, Shipped_At__c = System.now()));
            }
        }
        if (!events.isEmpty()) {
            List<Database.SaveResult> results = EventBus.publish(events);
            for (Database.SaveResult r : results) {
                if (!r.isSuccess()) { System.debug(LoggingLevel.ERROR, r.getErrors()); }
            }
        }
    }
}
""",
    "classes/OrderStatus.cls": """public enum OrderStatus { DRAFT, SUBMITTED, SHIPPED, CANCELLED }
""",
    "classes/Selector.cls": """public inherited sharing abstract class Selector {
    public interface Filter { String toSoql(); }

    protected abstract Schema.SObjectType objectType();
    protected abstract List<Schema.SObjectField> fields();

    protected String baseQuery() {
        List<String> names = new List<String>();
        for (Schema.SObjectField f : fields()) {
            names.add(f.getDescribe().getName());
        }
        return 'SELECT ' + String.join(names, ', ') + ' FROM ' + objectType().getDescribe().getName();
    }

    public List<SObject> byIds(Set<Id> ids) {
        return Database.query(baseQuery() + ' WHERE Id IN :ids WITH USER_MODE');
    }

    public List<SObject> byStatus(OrderStatus status, Integer maxRows) {
        String soql = baseQuery() + ' WHERE Status__c = \\'' + status.name() + '\\'';
        soql += ' WITH USER_MODE ORDER BY CreatedDate DESC LIMIT ' + maxRows;
        return Database.query(soql);
    }

    public List<SObject> search(String term) {
        String soql = baseQuery() + ' WHERE Name LIKE \\'%' + String.escapeSingleQuotes(term) + '%\\' WITH USER_MODE';
        return Database.query(soql);
    }

    public List<SObject> sorted(String sortField) {
        return Database.query(baseQuery() + ' WITH USER_MODE ORDER BY ' + sortField); // MISTAKE: injection
    }
}
""",
    "classes/OrdersSelector.cls": """public inherited sharing class OrdersSelector extends Selector {
    protected override Schema.SObjectType objectType() { return Order__c.SObjectType; }
    protected override List<Schema.SObjectField> fields() {
        return new List<Schema.SObjectField>{ Order__c.Id, Order__c.Name, Order__c.Status__c, Order__c.Total__c };
    }
    public Map<Id, List<Order_Line__c>> linesByOrder(Set<Id> orderIds) {
        Map<Id, List<Order_Line__c>> result = new Map<Id, List<Order_Line__c>>();
        for (Order_Line__c line : [
            SELECT Id, Order__c, Quantity__c, Product__r.Name
            FROM Order_Line__c
            WHERE Order__c IN :orderIds
            WITH USER_MODE
        ]) {
            if (!result.containsKey(line.Order__c)) { result.put(line.Order__c, new List<Order_Line__c>()); }
            result.get(line.Order__c).add(line);
        }
        return result;
    }
}
""",
    "classes/OrderService.cls": """public with sharing class OrderService {
    public class OrderException extends Exception { }

    public class Result {
        @AuraEnabled public Id orderId { get; private set; }
        @AuraEnabled public List<String> errors = new List<String>();
        public Result(Id orderId) { this.orderId = orderId; }
    }

    public static Result submit(Order__c order, List<Order_Line__c> lines) {
        if (!Schema.sObjectType.Order__c.isCreateable() || !Schema.sObjectType.Order_Line__c.isCreateable()) {
            throw new OrderException('You cannot create orders.');
        }
        Savepoint sp = Database.setSavepoint();
        try {
            insert order;
            for (Order_Line__c line : lines) { line.Order__c = order.Id; }
            insert lines;
        } catch (DmlException e) {
            Database.rollback(sp);
            Result failed = new Result(null);
            failed.errors.add(e.getDmlMessage(0));
            return failed;
        }
        return new Result(order.Id);
    }

    public static void syncFromErp(List<Order__c> orders) {
        upsert as user orders Order__c.Erp_Id__c;
    }

    public static void cancel(Set<Id> orderIds) {
        List<Order__c> orders = [SELECT Id, Status__c FROM Order__c WHERE Id IN :orderIds WITH USER_MODE];
        for (Order__c o : orders) { o.Status__c = OrderStatus.CANCELLED.name(); }
        SObjectAccessDecision decision = Security.stripInaccessible(AccessType.UPDATABLE, orders);
        update decision.getRecords();
    }

    public static void archive(List<Order__c> orders) {
        if (Order__c.SObjectType.getDescribe().isCreateable()) {
            upsert orders; // MISTAKE: an upsert also updates
        }
    }

    public static void purgeNotes(List<Order__c> orders) {
        delete [SELECT Id FROM Order_Note__c WHERE Order__c IN :orders WITH USER_MODE]; // MISTAKE: no isDeletable
    }
}
""",
    "classes/OrderController.cls": """public with sharing class OrderController {
    @AuraEnabled(cacheable=true)
    public static List<Order__c> recentOrders(Integer maxRows) {
        List<Order__c> rows = [SELECT Id, Name, Status__c, Total__c FROM Order__c ORDER BY CreatedDate DESC LIMIT :maxRows]; // cutover:ignore soql-not-enforced -- stripped below
        return (List<Order__c>) Security.stripInaccessible(AccessType.READABLE, rows).getRecords();
    }

    @AuraEnabled
    public static OrderService.Result submit(Order__c order, List<Order_Line__c> lines) {
        try {
            return OrderService.submit(order, lines);
        } catch (OrderService.OrderException e) {
            throw new AuraHandledException(e.getMessage());
        }
    }

    @AuraEnabled(cacheable=true)
    public static Map<Id, List<Order_Line__c>> lines(List<Id> orderIds) {
        return new OrdersSelector().linesByOrder(new Set<Id>(orderIds));
    }
}
""",
    "classes/CsvImport.cls": """public with sharing class CsvImport implements Queueable, Database.AllowsCallouts {
    private final String csv;
    public CsvImport(String csv) { this.csv = csv; }

    public void execute(QueueableContext context) {
        DataWeave.Script script = new DataWeaveScriptResource.csvToContacts();
        DataWeave.Result result = script.execute(new Map<String, Object>{ 'records' => csv });
        List<Contact> contacts = (List<Contact>) result.getValue();
        Database.insert(contacts, false, AccessLevel.USER_MODE);
        if (!contacts.isEmpty() && !Test.isRunningTest()) {
            System.enqueueJob(new CsvImport(''));
        }
    }
}
""",
    "classes/StaleOrderBatch.cls": """public with sharing class StaleOrderBatch implements Database.Batchable<SObject>, Database.Stateful, Schedulable {
    private Integer processed = 0;
    private final Integer days;
    public StaleOrderBatch(Integer days) { this.days = days; }

    public Database.QueryLocator start(Database.BatchableContext bc) {
        return Database.getQueryLocator(
            'SELECT Id, Status__c FROM Order__c WHERE LastModifiedDate < LAST_N_DAYS:' + days + ' WITH USER_MODE'
        );
    }

    public void execute(Database.BatchableContext bc, List<Order__c> scope) {
        for (Order__c o : scope) { o.Status__c = 'Stale'; }
        update as user scope;
        processed += scope.size();
    }

    public void finish(Database.BatchableContext bc) {
        System.debug('processed ' + processed);
    }

    public void execute(SchedulableContext sc) { Database.executeBatch(new StaleOrderBatch(30), 200); }
}
""",
    "classes/OrderApi.cls": """@RestResource(urlMapping='/orders/*')
global with sharing class OrderApi {
    @HttpGet
    global static Order__c show() {
        String orderId = RestContext.request.requestURI.substringAfterLast('/');
        return [SELECT Id, Name, Status__c FROM Order__c WHERE Id = :orderId WITH SECURITY_ENFORCED LIMIT 1];
    }

    @InvocableMethod(label='Count open orders' category='Orders')
    global static List<Integer> countOpen(List<Id> accountIds) {
        Integer total = [SELECT COUNT() FROM Order__c WHERE Account__c IN :accountIds AND Status__c != 'Closed' WITH USER_MODE];
        return new List<Integer>{ total };
    }

    @future
    public static void touch(Set<Id> ids) {
        List<Order__c> orders = new List<Order__c>();
        for (Id i : ids) { orders.add(new Order__c(Id = i)); }
        update orders; // MISTAKE: no check
    }
}
""",
    "classes/Shapes.cls": """public with sharing class Shapes {
    public interface Shape { Decimal area(); }
    public virtual class Rect implements Shape {
        protected Decimal w;
        protected Decimal h;
        public Rect(Decimal w, Decimal h) { this.w = w; this.h = h; }
        public virtual Decimal area() { return w * h; }
    }
    public class Square extends Rect {
        public Square(Decimal side) { super(side, side); }
        public override Decimal area() { return super.area(); }
    }
    public static String describe(Object o) {
        switch on o {
            when null { return 'nothing'; }
            when Square s { return 'square of ' + s.area(); }
            when Rect r { return 'rect of ' + r.area(); }
            when else { return String.valueOf(o); }
        }
    }
    public static String kind(SObject record) {
        switch on record {
            when Account a { return 'account ' + a.Name; }
            when Contact c { return 'contact ' + c?.LastName; }
            when else { return record?.getSObjectType()?.getDescribe()?.getName() ?? 'unknown'; }
        }
    }
    public static Map<String, List<Shape>> group(List<Shape> shapes) {
        Map<String, List<Shape>> byKind = new Map<String, List<Shape>>();
        Integer i = 0;
        do {
            Shape s = shapes[i];
            String key = s instanceof Square ? 'square' : 'rect';
            if (!byKind.containsKey(key)) { byKind.put(key, new List<Shape>()); }
            byKind.get(key).add(s);
            i++;
        } while (i < shapes.size());
        return byKind;
    }
    static {
        System.debug(Label.Orders_App_Name + ' ' + String.format('{0}', new List<Object>{ Limits.getQueries() }));
    }
}
""",
    "classes/OrderServiceTest.cls": """@IsTest
private class OrderServiceTest {
    @TestSetup
    static void setup() {
        insert new Account(Name = 'Acme');
    }
    @IsTest
    static void submitCreatesOrder() {
        Account acc = [SELECT Id FROM Account LIMIT 1];
        Test.startTest();
        OrderService.Result r = OrderService.submit(new Order__c(Account__c = acc.Id), new List<Order_Line__c>());
        Test.stopTest();
        Assert.isNotNull(r.orderId, 'an order id');
        Assert.areEqual(0, r.errors.size());
    }
}
""",
    "triggers/OrderTrigger.trigger": """trigger OrderTrigger on Order__c (before insert, before update, after insert, after update) {
    new OrderTriggerHandler().run();
}
""",
    "triggers/OrderShippedTrigger.trigger": """trigger OrderShippedTrigger on Order_Shipped__e (after insert) {
    List<Task> tasks = new List<Task>();
    for (Order_Shipped__e e : Trigger.new) {
        tasks.add(new Task(WhatId = e.Order_Id__c, Subject = 'Shipped'));
    }
    insert tasks; // MISTAKE: no check
    EventBus.TriggerContext.currentContext().setResumeCheckpoint(Trigger.new[Trigger.new.size() - 1].ReplayId);
}
""",
}

EXPECTED: list[tuple[str, str, int]] = [
    ("classes/OrderApi.cls", "dml-without-crud-check", 19),
    ("classes/OrderService.cls", "dml-without-crud-check", 41),
    ("classes/OrderService.cls", "dml-without-crud-check", 46),
    ("classes/Selector.cls", "soql-injection", 31),
    ("triggers/OrderShippedTrigger.trigger", "dml-without-crud-check", 6),
]
