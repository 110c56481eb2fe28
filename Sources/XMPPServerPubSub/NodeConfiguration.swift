import XMPPCore

/// A node's configuration (XEP-0060 §16.4.3, `pubsub#node_config`): who may read and publish, what is kept and
/// what is notified.
public struct NodeConfiguration: Sendable, Codable, Hashable {
    /// `pubsub#title`.
    public var title = ""
    /// `pubsub#access_model`.
    public var accessModel: AccessModel
    /// `pubsub#publish_model`.
    public var publishModel = PublishModel.publishers
    /// `pubsub#max_items`; `nil` is `max` (as many as the server keeps).
    public var maxItems: Int?
    /// `pubsub#persist_items`: items are kept (else only the last is, for late subscribers, and nothing is stored).
    public var persistItems = true
    /// `pubsub#notify_retract`.
    public var notifyRetract = true
    /// `pubsub#notify_delete`.
    public var notifyDelete = true
    /// `pubsub#notify_config`.
    public var notifyConfig = false
    /// `pubsub#deliver_payloads`: notifications carry the payload.
    public var deliverPayloads = true
    /// `pubsub#deliver_notifications`: notifications are sent at all.
    public var deliverNotifications = true
    /// `pubsub#send_last_published_item`.
    public var sendLastPublishedItem: SendLastPublishedItem
    /// `pubsub#roster_groups_allowed`, for the roster access model.
    public var rosterGroupsAllowed: [String] = []

    /// The defaults of a node on the pubsub service.
    public static let serviceDefault = NodeConfiguration(accessModel: .open, maxItems: 10, sendLastPublishedItem: .onSubscription)
    /// The defaults of a PEP node (XEP-0163 §6: presence access, the last item to contacts as they come online).
    public static let personalDefault = NodeConfiguration(accessModel: .presence, maxItems: 1, sendLastPublishedItem: .onSubscriptionAndPresence)
}

extension NodeConfiguration {
    /// The configuration as a form (`type='form'` to fill in, `type='result'` for publish-options results).
    func form(type: DataForm.FormType = .form) -> DataForm {
        typealias Field = DataForm.Field
        func options<Value: RawRepresentable<String> & CaseIterable>(_: Value.Type) -> [Field.Option] {
            Value.allCases.map { Field.Option(value: $0.rawValue) }
        }
        var form = DataForm(type: type, formType: PubSubNamespace.nodeConfig)
        form.fields += [
            Field(variable: "pubsub#title", type: .textSingle, label: "A short name for the node", values: [title]),
            Field(variable: "pubsub#access_model", type: .listSingle, label: "Who may subscribe and retrieve items",
                  values: [accessModel.rawValue], options: options(AccessModel.self)),
            Field(variable: "pubsub#publish_model", type: .listSingle, label: "Who may publish",
                  values: [publishModel.rawValue], options: options(PublishModel.self)),
            Field(variable: "pubsub#max_items", type: .textSingle, label: "Most items kept (or max)",
                  values: [maxItems.map(String.init) ?? "max"]),
            Field(variable: "pubsub#persist_items", type: .boolean, label: "Keep items", values: [persistItems ? "1" : "0"]),
            Field(variable: "pubsub#notify_retract", type: .boolean, label: "Notify when items are retracted", values: [notifyRetract ? "1" : "0"]),
            Field(variable: "pubsub#notify_delete", type: .boolean, label: "Notify when the node is deleted", values: [notifyDelete ? "1" : "0"]),
            Field(variable: "pubsub#notify_config", type: .boolean, label: "Notify when the configuration changes", values: [notifyConfig ? "1" : "0"]),
            Field(variable: "pubsub#deliver_payloads", type: .boolean, label: "Notifications carry the payload", values: [deliverPayloads ? "1" : "0"]),
            Field(variable: "pubsub#deliver_notifications", type: .boolean, label: "Send notifications", values: [deliverNotifications ? "1" : "0"]),
            Field(variable: "pubsub#send_last_published_item", type: .listSingle, label: "When to send the last item",
                  values: [sendLastPublishedItem.rawValue], options: options(SendLastPublishedItem.self)),
            Field(variable: "pubsub#roster_groups_allowed", type: .listMulti, label: "Roster groups allowed (roster access)",
                  values: rosterGroupsAllowed),
        ]
        return form
    }

    /// This configuration with the values of a submitted form applied; fields it does not know are ignored.
    /// - Throws: `not-acceptable` for a value it cannot take; `max_items` above `limit` is lowered to it.
    func applying(_ form: DataForm, maxItemsLimit limit: Int) throws(StanzaError) -> NodeConfiguration {
        var result = self
        for field in form.fields {
            guard let variable = field.variable, variable != "FORM_TYPE" else { continue }
            let value = field.values.first ?? ""
            switch variable {
            case "pubsub#title": result.title = value
            case "pubsub#access_model": result.accessModel = try Self.parse(value, variable)
            case "pubsub#publish_model": result.publishModel = try Self.parse(value, variable)
            case "pubsub#max_items": result.maxItems = try Self.parseMaxItems(value, limit: limit)
            case "pubsub#persist_items": result.persistItems = try Self.parseBool(field, variable)
            case "pubsub#notify_retract": result.notifyRetract = try Self.parseBool(field, variable)
            case "pubsub#notify_delete": result.notifyDelete = try Self.parseBool(field, variable)
            case "pubsub#notify_config": result.notifyConfig = try Self.parseBool(field, variable)
            case "pubsub#deliver_payloads": result.deliverPayloads = try Self.parseBool(field, variable)
            case "pubsub#deliver_notifications": result.deliverNotifications = try Self.parseBool(field, variable)
            case "pubsub#send_last_published_item": result.sendLastPublishedItem = try Self.parse(value, variable)
            case "pubsub#roster_groups_allowed": result.rosterGroupsAllowed = field.values
            default: continue
            }
        }
        return result
    }

    /// Whether every option the publish-options form names has that value here (XEP-0060 §7.1.5); a field this
    /// server does not know is a precondition it cannot meet.
    func meets(_ preconditions: DataForm, maxItemsLimit limit: Int) -> Bool {
        for field in preconditions.fields {
            guard let variable = field.variable, variable != "FORM_TYPE" else { continue }
            let wanted = field.values.first ?? ""
            guard let current = form().field(variable) else { return false }
            switch current.type {
            case .boolean:
                guard let wantedBool = DataForm.Field(variable: variable, values: [wanted]).boolValue,
                      wantedBool == current.boolValue else { return false }
            case .listMulti:
                guard Set(field.values) == Set(current.values) else { return false }
            default:
                if variable == "pubsub#max_items" {
                    guard (try? Self.parseMaxItems(wanted, limit: limit)) == maxItems else { return false }
                } else if current.values.first != wanted {
                    return false
                }
            }
        }
        return true
    }

    private static func parse<Value: RawRepresentable<String>>(_ raw: String, _ variable: String) throws(StanzaError) -> Value {
        guard let value = Value(rawValue: raw) else { throw StanzaError(.notAcceptable, text: "\(variable) cannot be '\(raw)'") }
        return value
    }

    private static func parseBool(_ field: DataForm.Field, _ variable: String) throws(StanzaError) -> Bool {
        guard let value = field.boolValue else { throw StanzaError(.notAcceptable, text: "\(variable) must be a boolean") }
        return value
    }

    private static func parseMaxItems(_ raw: String, limit: Int) throws(StanzaError) -> Int? {
        if raw == "max" { return nil }
        guard let count = Int(raw), count >= 1 else { throw StanzaError(.notAcceptable, text: "pubsub#max_items must be a count or max") }
        return min(count, limit)
    }
}
