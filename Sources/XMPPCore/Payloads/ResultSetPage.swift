/// Result Set Management (XEP-0059): how a client asks for one page of a long list, and how the answer says
/// where the page is.
public struct ResultSetPage: Sendable, Hashable {
    /// `http://jabber.org/protocol/rsm`.
    public static let namespace = "http://jabber.org/protocol/rsm"

    /// Most items wanted (`<max/>`), or in an answer, `nil`.
    public var max: Int?
    /// Items after this id (`<after/>`): the next page.
    public var after: String?
    /// Items before this id (`<before/>`); an empty string asks for the last page.
    public var before: String?
    /// Skip this many items (`<index/>`).
    public var index: Int?
    /// In an answer: the id of the first item of the page.
    public var first: String?
    /// In an answer: the position of the first item in the whole list.
    public var firstIndex: Int?
    /// In an answer: the id of the last item of the page.
    public var last: String?
    /// In an answer: how many items the whole list has.
    public var count: Int?

    /// A request or an answer; every part optional.
    public init(max: Int? = nil, after: String? = nil, before: String? = nil, index: Int? = nil,
                first: String? = nil, firstIndex: Int? = nil, last: String? = nil, count: Int? = nil) {
        self.max = max
        self.after = after
        self.before = before
        self.index = index
        self.first = first
        self.firstIndex = firstIndex
        self.last = last
        self.count = count
    }

    /// Reads a `<set/>` element; `nil` when it is not one or a number in it is not a non-negative integer.
    public init?(element: Element) {
        guard element.name == "set", element.namespace == Self.namespace else { return nil }
        func number(_ name: String) -> Int?? {
            guard let text = element.child(name, namespace: Self.namespace)?.text else { return .some(nil) }
            guard let value = Int(text), value >= 0 else { return nil }
            return .some(value)
        }
        guard let max = number("max"), let index = number("index"), let count = number("count") else { return nil }
        self.init(max: max, after: element.child("after", namespace: Self.namespace)?.text,
                  before: element.child("before", namespace: Self.namespace)?.text, index: index,
                  last: element.child("last", namespace: Self.namespace)?.text, count: count)
        if let first = element.child("first", namespace: Self.namespace) {
            self.first = first.text
            if let raw = first.attribute("index") {
                guard let position = Int(raw), position >= 0 else { return nil }
                firstIndex = position
            }
        }
    }

    /// The `<set/>` element.
    public var element: Element {
        var set = Element("set", namespace: Self.namespace)
        func add(_ name: String, _ text: String?) {
            if let text { set.append(Element(name, namespace: Self.namespace, text: text)) }
        }
        add("max", max.map(String.init))
        add("after", after)
        add("before", before)
        add("index", index.map(String.init))
        if let first {
            var first = Element("first", namespace: Self.namespace, text: first)
            first.setAttribute("index", to: firstIndex.map(String.init))
            set.append(first)
        }
        add("last", last)
        add("count", count.map(String.init))
        return set
    }
}
