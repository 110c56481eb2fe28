import Foundation
import XMPPCore

/// Stream initiation for file transfer (XEP-0095, XEP-0096): the offer names the file and the bytestream methods
/// the sender can use (a XEP-0020 form); the receiver's answer picks one, and the bytestream's sid is the offer's id.
enum StreamInitiation {
    static let namespace = "http://jabber.org/protocol/si"
    static let fileTransferProfile = "http://jabber.org/protocol/si/profile/file-transfer"
    static let featureNegotiation = "http://jabber.org/protocol/feature-neg"
    static let hashesNamespace = "urn:xmpp:hashes:2"

    /// The method namespaces, in our order of preference.
    static func namespace(of method: BytestreamMethod) -> String {
        switch method {
        case .direct, .socks5: SOCKS5Bytestream.namespace
        case .inBand: InBandBytestream.namespace
        }
    }

    /// The method a namespace stands for (SOCKS5 bytestreams: direct or through a proxy, whichever works).
    static func method(named namespace: String) -> BytestreamMethod? {
        switch namespace {
        case SOCKS5Bytestream.namespace: .socks5
        case InBandBytestream.namespace: .inBand
        default: nil
        }
    }

    /// The methods as offered: SOCKS5 once, whether direct, through a proxy or both.
    static func offered(_ methods: [BytestreamMethod]) -> [BytestreamMethod] {
        var seen: Set<String> = []
        return methods.filter { seen.insert(namespace(of: $0)).inserted }.map { $0 == .direct ? .socks5 : $0 }
    }

    /// The `<si/>` offer of `file` with `methods`.
    static func offer(id: String, file: FileDescription, methods: [BytestreamMethod]) -> Element {
        var si = Element("si", namespace: namespace, attributes: ["id": id, "profile": fileTransferProfile])
        si.setAttribute("mime-type", to: file.mediaType)
        var description = Element("file", namespace: fileTransferProfile, attributes: ["name": file.name, "size": String(file.size)])
        if let text = file.text { description.append(Element("desc", namespace: fileTransferProfile, text: text)) }
        if let sha256 = file.sha256 {
            description.append(Element("hash", namespace: hashesNamespace, attributes: ["algo": "sha-256"], text: sha256.base64EncodedString()))
        }
        si.append(description)
        var field = Element("field", namespace: DataForm.namespace, attributes: ["var": "stream-method", "type": "list-single"])
        for method in offered(methods) {
            var option = Element("option", namespace: DataForm.namespace)
            option.append(Element("value", namespace: DataForm.namespace, text: namespace(of: method)))
            field.append(option)
        }
        si.append(negotiation(type: "form", field: field))
        return si
    }

    /// The receiver's answer choosing `method`.
    static func answer(choosing method: BytestreamMethod) -> Element {
        var si = Element("si", namespace: namespace)
        var field = Element("field", namespace: DataForm.namespace, attributes: ["var": "stream-method"])
        field.append(Element("value", namespace: DataForm.namespace, text: namespace(of: method)))
        si.append(negotiation(type: "submit", field: field))
        return si
    }

    private static func negotiation(type: String, field: Element) -> Element {
        var form = Element("x", namespace: DataForm.namespace, attributes: ["type": type])
        form.append(field)
        var feature = Element("feature", namespace: featureNegotiation)
        feature.append(form)
        return feature
    }

    /// The `stream-method` values of an offer's or answer's form.
    static func methods(in si: Element) -> [String] {
        guard let field = si.child("feature", namespace: featureNegotiation)?.child("x", namespace: DataForm.namespace)?
            .children("field", namespace: DataForm.namespace).first(where: { $0.attribute("var") == "stream-method" }) else { return [] }
        let options = field.children("option", namespace: DataForm.namespace).compactMap { $0.child("value", namespace: DataForm.namespace)?.text }
        return options.isEmpty ? field.children("value", namespace: DataForm.namespace).map(\.text) : options
    }

    /// The file an `<si/>` offer describes, with its id; nil when it is not a file transfer offer.
    static func file(in si: Element) -> (id: String, file: FileDescription)? {
        guard si.attribute("profile") == fileTransferProfile, let id = si.attribute("id"), !id.isEmpty,
              let file = si.child("file", namespace: fileTransferProfile), let name = file.attribute("name"),
              let size = file.attribute("size").flatMap(Int64.init), size >= 0 else { return nil }
        let sha256 = file.children("hash", namespace: hashesNamespace).first { $0.attribute("algo") == "sha-256" }
            .flatMap { Data(base64Encoded: $0.text.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return (id, FileDescription(name: name, size: size, mediaType: si.attribute("mime-type"),
                                    text: file.child("desc", namespace: fileTransferProfile)?.text, sha256: sha256))
    }
}
