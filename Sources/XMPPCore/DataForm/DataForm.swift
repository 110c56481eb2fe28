/// A data form (XEP-0004): the `<x xmlns='jabber:x:data'/>` element used for configuration, registration and
/// search, with typed fields.
///
/// ```swift
/// var form = DataForm(type: .submit, formType: "http://jabber.org/protocol/muc#roomconfig")
/// form.fields.append(.init(variable: "muc#roomconfig_roomname", values: ["Balcony"]))
/// form.value(of: "muc#roomconfig_roomname")   // "Balcony"
/// ```
public struct DataForm: Sendable, Hashable {
    /// The data forms namespace.
    public static let namespace = "jabber:x:data"

    /// The form types of XEP-0004 §3.1.
    public enum FormType: String, Sendable, Hashable, CaseIterable {
        case form, submit, cancel, result
    }

    /// A form field (XEP-0004 §3.2).
    public struct Field: Sendable, Hashable {
        /// The field types of XEP-0004 §3.3.
        public enum FieldType: String, Sendable, Hashable, CaseIterable {
            case boolean, fixed, hidden
            case jidMulti = "jid-multi", jidSingle = "jid-single"
            case listMulti = "list-multi", listSingle = "list-single"
            case textMulti = "text-multi", textPrivate = "text-private", textSingle = "text-single"
        }

        /// An option of a list field.
        public struct Option: Sendable, Hashable {
            /// The label shown to humans.
            public var label: String?
            /// The value submitted.
            public var value: String

            /// Creates an option.
            public init(label: String? = nil, value: String) {
                self.label = label
                self.value = value
            }
        }

        /// The field's `var`; `nil` only for `fixed` fields.
        public var variable: String?
        /// The field type; `nil` means the default, `text-single`.
        public var type: FieldType?
        /// A human-readable label.
        public var label: String?
        /// A longer description (`<desc/>`).
        public var description: String?
        /// Whether the field must be filled in.
        public var isRequired: Bool
        /// The values, in order.
        public var values: [String]
        /// The options of list fields.
        public var options: [Option]

        /// Creates a field.
        public init(variable: String?, type: FieldType? = nil, label: String? = nil, description: String? = nil,
                    isRequired: Bool = false, values: [String] = [], options: [Option] = []) {
            self.variable = variable
            self.type = type
            self.label = label
            self.description = description
            self.isRequired = isRequired
            self.values = values
            self.options = options
        }

        /// A boolean field's value: `1`/`true` are true (XEP-0004 §3.3).
        public var boolValue: Bool? {
            guard let first = values.first else { return nil }
            switch first {
            case "1", "true": return true
            case "0", "false": return false
            default: return nil
            }
        }
    }

    /// The form type.
    public var type: FormType
    /// The title, if any.
    public var title: String?
    /// Instructions, one per line.
    public var instructions: [String]
    /// The fields, in order.
    public var fields: [Field]
    /// For `result` forms with several items: the columns.
    public var reported: [Field]?
    /// For `result` forms with several items: one list of fields per item.
    public var items: [[Field]]

    /// Creates a form; a `formType` adds the hidden `FORM_TYPE` field first (XEP-0068).
    public init(type: FormType, formType: String? = nil, title: String? = nil, instructions: [String] = [], fields: [Field] = []) {
        self.type = type
        self.title = title
        self.instructions = instructions
        self.fields = fields
        self.reported = nil
        self.items = []
        if let formType {
            self.fields.insert(Field(variable: "FORM_TYPE", type: .hidden, values: [formType]), at: 0)
        }
    }

    /// The `FORM_TYPE` value, if present.
    public var formType: String? { field("FORM_TYPE")?.values.first }

    /// The field with this `var`.
    public func field(_ variable: String) -> Field? {
        fields.first { $0.variable == variable }
    }

    /// The first value of the field with this `var`.
    public func value(of variable: String) -> String? {
        field(variable)?.values.first
    }

    /// Sets the values of a field, adding the field when absent.
    public mutating func setValues(_ values: [String], for variable: String, type: Field.FieldType? = nil) {
        if let index = fields.firstIndex(where: { $0.variable == variable }) {
            fields[index].values = values
        } else {
            fields.append(Field(variable: variable, type: type, values: values))
        }
    }
}

extension DataForm {
    /// Reads an `<x xmlns='jabber:x:data'/>` element; `nil` when it is not a form or has no valid type.
    public init?(element: Element) {
        guard element.name == "x", element.namespace == Self.namespace,
              let type = element.attribute("type").flatMap(FormType.init(rawValue:)) else { return nil }
        self.init(type: type)
        title = element.child("title", namespace: Self.namespace)?.text
        instructions = element.children("instructions", namespace: Self.namespace).map(\.text)
        fields = element.children("field", namespace: Self.namespace).map(Self.field(from:))
        if let reported = element.child("reported", namespace: Self.namespace) {
            self.reported = reported.children("field", namespace: Self.namespace).map(Self.field(from:))
        }
        items = element.children("item", namespace: Self.namespace).map {
            $0.children("field", namespace: Self.namespace).map(Self.field(from:))
        }
    }

    /// The `<x xmlns='jabber:x:data'/>` element.
    public var element: Element {
        var form = Element("x", namespace: Self.namespace, attributes: ["type": type.rawValue])
        if let title { form.append(Element("title", namespace: Self.namespace, text: title)) }
        for line in instructions { form.append(Element("instructions", namespace: Self.namespace, text: line)) }
        if let reported {
            var columns = Element("reported", namespace: Self.namespace)
            for field in reported { columns.append(Self.element(for: field)) }
            form.append(columns)
        }
        for item in items {
            var row = Element("item", namespace: Self.namespace)
            for field in item { row.append(Self.element(for: field)) }
            form.append(row)
        }
        for field in fields { form.append(Self.element(for: field)) }
        return form
    }

    private static func field(from element: Element) -> Field {
        Field(
            variable: element.attribute("var"),
            type: element.attribute("type").flatMap(Field.FieldType.init(rawValue:)),
            label: element.attribute("label"),
            description: element.child("desc", namespace: namespace)?.text,
            isRequired: element.child("required", namespace: namespace) != nil,
            values: element.children("value", namespace: namespace).map(\.text),
            options: element.children("option", namespace: namespace).map {
                Field.Option(label: $0.attribute("label"), value: $0.child("value", namespace: namespace)?.text ?? "")
            })
    }

    private static func element(for field: Field) -> Element {
        var element = Element("field", namespace: namespace)
        element.setAttribute("var", to: field.variable)
        element.setAttribute("type", to: field.type?.rawValue)
        element.setAttribute("label", to: field.label)
        if let description = field.description { element.append(Element("desc", namespace: namespace, text: description)) }
        if field.isRequired { element.append(Element("required", namespace: namespace)) }
        for value in field.values { element.append(Element("value", namespace: namespace, text: value)) }
        for option in field.options {
            var optionElement = Element("option", namespace: namespace)
            optionElement.setAttribute("label", to: option.label)
            optionElement.append(Element("value", namespace: namespace, text: option.value))
            element.append(optionElement)
        }
        return element
    }
}
