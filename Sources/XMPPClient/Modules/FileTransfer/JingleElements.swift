import Foundation
import XMPPCore

/// A Jingle file offer this client received and has not answered yet.
struct JingleOffer: Sendable {
    let initiator: JID
    let sid: String
    let content: String
    let creator: String
    let transport: JingleTransport
}

/// What a Jingle content's transport says.
enum JingleTransport: Sendable {
    /// XEP-0260: the bytestream's sid, and the initiator's candidates (streamhosts).
    case socks5(sid: String, candidates: [JingleCandidate])
    /// XEP-0261: the bytestream's sid and block size.
    case inBand(sid: String, blockSize: Int)

    var sid: String {
        switch self {
        case .socks5(let sid, _), .inBand(let sid, _): sid
        }
    }
}

/// A SOCKS5 candidate (XEP-0260 §2.2).
struct JingleCandidate: Sendable {
    let cid: String
    let streamhost: SOCKS5Bytestream.Streamhost
    /// `direct` (the sender listens) or `proxy`.
    let type: String

    /// XEP-0260's type preferences: direct 126, proxy 10, in the priority's upper 16 bits.
    var priority: Int { (type == "direct" ? 126 : 10) << 16 }
}

/// The Jingle elements file transfer uses: building them and reading them (XEP-0166, XEP-0234, XEP-0260, XEP-0261).
extension JingleFileTransfer {
    static func jingleElement(_ action: String, sid: String, initiator: JID?) -> Element {
        var element = Element("jingle", namespace: jingle, attributes: ["action": action, "sid": sid])
        element.setAttribute("initiator", to: initiator?.description)
        return element
    }

    static func content(name: String, creator: String = "initiator", description: FileDescription?, transport: Element) -> Element {
        var content = Element("content", namespace: jingle, attributes: ["creator": creator, "name": name, "senders": "initiator"])
        if let description {
            var file = Element("file", namespace: fileTransfer)
            if let type = description.mediaType { file.append(Element("media-type", namespace: fileTransfer, text: type)) }
            file.append(Element("name", namespace: fileTransfer, text: description.name))
            file.append(Element("size", namespace: fileTransfer, text: String(description.size)))
            if let text = description.text { file.append(Element("desc", namespace: fileTransfer, text: text)) }
            if let sha256 = description.sha256 {
                file.append(Element("hash", namespace: StreamInitiation.hashesNamespace, attributes: ["algo": "sha-256"],
                                    text: sha256.base64EncodedString()))
            }
            var wrapper = Element("description", namespace: fileTransfer)
            wrapper.append(file)
            content.append(wrapper)
        }
        content.append(transport)
        return content
    }

    static func transportElement(_ transport: JingleTransport, dstaddr: String? = nil) -> Element {
        switch transport {
        case .inBand(let sid, let blockSize):
            return Element("transport", namespace: inBandTransport, attributes: ["sid": sid, "block-size": String(blockSize)])
        case .socks5(let sid, let candidates):
            var element = Element("transport", namespace: socks5Transport, attributes: ["sid": sid, "mode": "tcp"])
            element.setAttribute("dstaddr", to: dstaddr)
            for candidate in candidates {
                element.append(Element("candidate", namespace: socks5Transport, attributes: [
                    "cid": candidate.cid, "host": candidate.streamhost.host, "jid": candidate.streamhost.jid.description,
                    "port": String(candidate.streamhost.port), "priority": String(candidate.priority), "type": candidate.type]))
            }
            return element
        }
    }

    static func parseTransport(_ element: Element) -> JingleTransport? {
        guard let sid = element.attribute("sid"), !sid.isEmpty else { return nil }
        switch element.namespace {
        case inBandTransport:
            return .inBand(sid: sid, blockSize: element.attribute("block-size").flatMap(Int.init) ?? InBandBytestream.blockSize)
        case socks5Transport:
            let candidates = element.children("candidate", namespace: socks5Transport).compactMap { candidate -> JingleCandidate? in
                guard let cid = candidate.attribute("cid"), let jid = candidate.attribute("jid").flatMap(JID.init(validating:)),
                      let host = candidate.attribute("host"), let port = candidate.attribute("port").flatMap(Int.init),
                      (1...65535).contains(port) else { return nil }
                return JingleCandidate(cid: cid, streamhost: .init(jid: jid, host: host, port: port),
                                       type: candidate.attribute("type") == "proxy" ? "proxy" : "direct")
            }
            return .socks5(sid: sid, candidates: candidates)
        default:
            return nil
        }
    }

    static func parseFile(_ content: Element) -> FileDescription? {
        guard let file = content.child("description", namespace: fileTransfer)?.child("file", namespace: fileTransfer),
              let name = file.child("name", namespace: fileTransfer)?.text,
              let size = file.child("size", namespace: fileTransfer).flatMap({ Int64($0.text.trimmingCharacters(in: .whitespaces)) }),
              size >= 0 else { return nil }
        let sha256 = file.children("hash", namespace: StreamInitiation.hashesNamespace).first { $0.attribute("algo") == "sha-256" }
            .flatMap { Data(base64Encoded: $0.text.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return FileDescription(name: name, size: size, mediaType: file.child("media-type", namespace: fileTransfer)?.text,
                               text: file.child("desc", namespace: fileTransfer)?.text, sha256: sha256)
    }

    static func transportInfo(sid: String, content: String, transportSID: String, _ child: Element) -> Element {
        var transport = Element("transport", namespace: socks5Transport, attributes: ["sid": transportSID])
        transport.append(child)
        var jingle = jingleElement("transport-info", sid: sid, initiator: nil)
        jingle.append(Self.content(name: content, creator: "initiator", description: nil, transport: transport))
        return jingle
    }

    static func transportChild(_ jingle: Element, _ name: String) -> Element? {
        jingle.child("content", namespace: Self.jingle)?.child("transport", namespace: socks5Transport)?.child(name, namespace: socks5Transport)
    }
}
