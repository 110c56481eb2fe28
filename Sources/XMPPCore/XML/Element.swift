/// An XML element as XMPP uses it: a local name in a namespace, attributes, and ordered children.
///
/// Namespaces are always resolved: the parser turns prefixes into namespace URIs, and the serializer writes
/// the declarations the element needs. Two elements are equal when their names, namespaces, attributes (in
/// order) and children are equal, so a parsed tree can be compared with one built in code.
///
/// ```swift
/// var message = Element("message", namespace: XMLNamespace.client,
///                       attributes: ["type": "chat", "to": "juliet@example.com"])
/// message.append(Element("body", namespace: XMLNamespace.client, text: "Art thou not Romeo?"))
/// message.attribute("type")                  // "chat"
/// message.child("body")?.text                // "Art thou not Romeo?"
/// ```
public struct Element: Sendable, Hashable {
    /// The local name, without any prefix.
    public var name: String
    /// The namespace URI the element belongs to; the empty string means no namespace.
    public var namespace: String
    /// The attributes in document order. Namespace declarations are not attributes.
    public var attributes: [Attribute]
    /// Child elements and text runs in document order. Adjacent text runs are merged by the parser.
    public var children: [Node]

    /// Creates an element.
    /// - Parameters:
    ///   - name: The local name.
    ///   - namespace: The namespace URI.
    ///   - attributes: Unqualified attributes, written in the order of the array.
    ///   - children: Initial children.
    public init(_ name: String, namespace: String, attributes: KeyValuePairs<String, String> = [:], children: [Node] = []) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes.map { Attribute(name: $0.key, value: $0.value) }
        self.children = children
    }

    /// Creates an element whose only child is a text run, such as `<body>hello</body>`.
    public init(_ name: String, namespace: String, attributes: KeyValuePairs<String, String> = [:], text: String) {
        self.init(name, namespace: namespace, attributes: attributes, children: text.isEmpty ? [] : [.text(text)])
    }

    /// Creates an element from already-built attribute values; used by the parser.
    public init(name: String, namespace: String, attributes: [Attribute], children: [Node]) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
    }
}

/// One child of an ``Element``: another element or a run of character data.
public enum Node: Sendable, Hashable {
    /// A child element.
    case element(Element)
    /// Character data, with entities already replaced.
    case text(String)
}

/// An attribute of an ``Element``.
public struct Attribute: Sendable, Hashable {
    /// The local name, without prefix.
    public var name: String
    /// The namespace URI for a qualified attribute (`xml:lang` is in ``XMLNamespace/xml``); empty when unqualified.
    public var namespace: String
    /// The value, with entities replaced and attribute-value normalization applied.
    public var value: String

    /// Creates an attribute.
    public init(name: String, namespace: String = "", value: String) {
        self.name = name
        self.namespace = namespace
        self.value = value
    }
}

extension Element {
    /// The value of an attribute, or `nil` when it is absent.
    /// - Parameters:
    ///   - name: The attribute's local name.
    ///   - namespace: The attribute's namespace; empty (the default) for the unqualified attributes XMPP mostly uses.
    public func attribute(_ name: String, namespace: String = "") -> String? {
        for attribute in attributes where attribute.name == name && attribute.namespace == namespace {
            return attribute.value
        }
        return nil
    }

    /// Sets, replaces, or (with `nil`) removes an attribute.
    public mutating func setAttribute(_ name: String, namespace: String = "", to value: String?) {
        if let index = attributes.firstIndex(where: { $0.name == name && $0.namespace == namespace }) {
            if let value {
                attributes[index].value = value
            } else {
                attributes.remove(at: index)
            }
        } else if let value {
            attributes.append(Attribute(name: name, namespace: namespace, value: value))
        }
    }

    /// Subscript access to unqualified attributes: `element["type"] = "chat"`.
    public subscript(attribute name: String) -> String? {
        get { attribute(name) }
        set { setAttribute(name, to: newValue) }
    }

    /// The `xml:lang` attribute of this element, if present.
    public var language: String? {
        get { attribute("lang", namespace: XMLNamespace.xml) }
        set { setAttribute("lang", namespace: XMLNamespace.xml, to: newValue) }
    }

    /// The child elements, skipping text.
    public var elements: some Sequence<Element> {
        children.lazy.compactMap { node in
            if case .element(let element) = node { return element }
            return nil
        }
    }

    /// The first child element with this name and namespace. A `nil` namespace matches any namespace.
    public func child(_ name: String, namespace: String? = nil) -> Element? {
        for case .element(let element) in children
        where element.name == name && (namespace == nil || element.namespace == namespace) {
            return element
        }
        return nil
    }

    /// The first child element in a namespace, whatever its name: how XMPP finds an iq's payload.
    public func child(namespace: String) -> Element? {
        for case .element(let element) in children where element.namespace == namespace {
            return element
        }
        return nil
    }

    /// All child elements with this name and namespace. A `nil` namespace matches any namespace.
    public func children(_ name: String, namespace: String? = nil) -> [Element] {
        elements.filter { $0.name == name && (namespace == nil || $0.namespace == namespace) }
    }

    /// The first child element (a pubsub request's action, an event's kind), if any.
    public var firstChildElement: Element? {
        elements.first { _ in true }
    }

    /// The concatenated character data of the direct text children.
    public var text: String {
        get {
            var result = ""
            for case .text(let run) in children {
                result += run
            }
            return result
        }
        set {
            children.removeAll { if case .text = $0 { return true } else { return false } }
            if !newValue.isEmpty { children.insert(.text(newValue), at: 0) }
        }
    }

    /// Appends a child element.
    public mutating func append(_ child: Element) {
        children.append(.element(child))
    }

    /// Appends a text run, merging it with a text run that ends the children.
    public mutating func append(text: String) {
        guard !text.isEmpty else { return }
        if case .text(let previous) = children.last {
            children[children.count - 1] = .text(previous + text)
        } else {
            children.append(.text(text))
        }
    }

    /// Removes every child element with this name and namespace.
    public mutating func removeChildren(_ name: String, namespace: String? = nil) {
        children.removeAll { node in
            if case .element(let element) = node {
                return element.name == name && (namespace == nil || element.namespace == namespace)
            }
            return false
        }
    }

    /// Returns a copy with one more child element; handy for building nested elements in one expression.
    public func appending(_ child: Element) -> Element {
        var copy = self
        copy.append(child)
        return copy
    }
}
