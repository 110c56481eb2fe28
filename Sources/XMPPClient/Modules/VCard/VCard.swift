import XMPPCore

/// A vCard (XEP-0054, `vcard-temp`): typed access to the common fields over the element itself, so fields
/// this type does not model survive a fetch-edit-publish round trip.
public struct VCard: Sendable, Hashable {
    /// The `vcard-temp` namespace.
    public static let namespace = "vcard-temp"

    /// The `<vCard/>` element.
    public var element: Element

    /// An empty vCard.
    public init() {
        element = Element("vCard", namespace: Self.namespace)
    }

    /// Wraps a `<vCard/>` element.
    public init?(element: Element) {
        guard element.name == "vCard", element.namespace == Self.namespace else { return nil }
        self.element = element
    }

    /// The formatted name (`FN`).
    public var fullName: String? {
        get { text("FN") }
        set { setText("FN", newValue) }
    }

    /// The nickname (`NICKNAME`).
    public var nickname: String? {
        get { text("NICKNAME") }
        set { setText("NICKNAME", newValue) }
    }

    /// The e-mail address (`EMAIL/USERID`).
    public var email: String? {
        get { element.child("EMAIL", namespace: Self.namespace)?.child("USERID", namespace: Self.namespace)?.text }
        set {
            element.removeChildren("EMAIL", namespace: Self.namespace)
            if let newValue {
                element.append(Element("EMAIL", namespace: Self.namespace, children: [
                    .element(Element("INTERNET", namespace: Self.namespace)),
                    .element(Element("USERID", namespace: Self.namespace, text: newValue)),
                ]))
            }
        }
    }

    /// A web address (`URL`).
    public var url: String? {
        get { text("URL") }
        set { setText("URL", newValue) }
    }

    /// Free text about the person (`DESC`).
    public var about: String? {
        get { text("DESC") }
        set { setText("DESC", newValue) }
    }

    /// The photo (`PHOTO`: `TYPE` and base64 `BINVAL`), the avatar of XEP-0153.
    public var photo: (type: String, data: [UInt8])? {
        get {
            guard let photo = element.child("PHOTO", namespace: Self.namespace),
                  let encoded = photo.child("BINVAL", namespace: Self.namespace)?.text,
                  let data = Base64.decode(encoded.filter { !$0.isWhitespace }) else { return nil }
            return (photo.child("TYPE", namespace: Self.namespace)?.text ?? "image/png", data)
        }
        set {
            element.removeChildren("PHOTO", namespace: Self.namespace)
            if let newValue {
                element.append(Element("PHOTO", namespace: Self.namespace, children: [
                    .element(Element("TYPE", namespace: Self.namespace, text: newValue.type)),
                    .element(Element("BINVAL", namespace: Self.namespace, text: Base64.encode(newValue.data))),
                ]))
            }
        }
    }

    public static func == (left: VCard, right: VCard) -> Bool { left.element == right.element }
    public func hash(into hasher: inout Hasher) { hasher.combine(element) }

    private func text(_ name: String) -> String? {
        element.child(name, namespace: Self.namespace).map(\.text).flatMap { $0.isEmpty ? nil : $0 }
    }

    private mutating func setText(_ name: String, _ value: String?) {
        element.removeChildren(name, namespace: Self.namespace)
        if let value { element.append(Element(name, namespace: Self.namespace, text: value)) }
    }
}
