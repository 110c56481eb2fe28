import Foundation
import NIOCore
import XMPPCore
import XMPPServerKernel

/// The upload service's XMPP side at `upload.<domain>` (XEP-0363): disco (with `max-file-size`) and slot requests.
/// Only accounts of this server get slots; the bytes go over HTTPS to the web listener (``UploadExchange``).
struct HTTPUploadService: HostedService {
    static let namespace = "urn:xmpp:http:upload:0"

    let domain: String
    let displayName = "HTTP file upload"
    let store: UploadStore

    func receive(_ stanza: Element, to: JID, kernel: ServerKernel, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        answerRequest(stanza, to: to, kernel: kernel, eventLoop: eventLoop) { iq, from throws(StanzaError) in
            try answer(iq, from: from, to: to, kernel: kernel)
        }
    }

    private func answer(_ iq: IQ, from: JID, to: JID, kernel: ServerKernel) throws(StanzaError) -> Element? {
        guard to.localpart == nil, to.resourcepart == nil, let payload = iq.payload else { throw StanzaError(.serviceUnavailable) }
        switch (payload.namespace, payload.name, iq.type) {
        case (DiscoNamespace.info, "query", .get?):
            guard payload.attribute("node") == nil else { throw StanzaError(.itemNotFound) }
            return discoInfo()
        case (DiscoNamespace.items, "query", .get?):
            return Element("query", namespace: DiscoNamespace.items)
        case (Self.namespace, "request", .get?):
            guard from.domainpart == kernel.configuration.domain, from.localpart != nil else {
                throw StanzaError(.forbidden, text: "only accounts of \(kernel.configuration.domain) may upload here")
            }
            return try slot(for: payload, owner: from.bare.description)
        default:
            throw StanzaError(.serviceUnavailable)
        }
    }

    private func discoInfo() -> Element {
        var query = Element("query", namespace: DiscoNamespace.info)
        query.append(DiscoIdentity(category: "store", type: "file", name: displayName).element)
        for feature in [DiscoNamespace.info, Self.namespace] {
            query.append(Element("feature", namespace: DiscoNamespace.info, attributes: ["var": feature]))
        }
        var form = DataForm(type: .result, formType: Self.namespace)
        form.setValues([String(store.limits.maxFileBytes)], for: "max-file-size")
        query.append(form.element)
        return query
    }

    private func slot(for request: Element, owner: String) throws(StanzaError) -> Element {
        guard let filename = request.attribute("filename"), !filename.isEmpty, filename.utf8.count <= 1024 else {
            throw StanzaError(.badRequest, text: "the request needs a filename")
        }
        guard let sizeText = request.attribute("size"), let size = Int(sizeText), size > 0 else {
            throw StanzaError(.badRequest, text: "the request needs a size in bytes, more than zero")
        }
        let contentType = request.attribute("content-type").flatMap { Self.isPlainContentType($0) ? $0 : nil }
        if request.attribute("content-type") != nil && contentType == nil {
            throw StanzaError(.badRequest, text: "content-type is not a media type")
        }
        let url: String
        do throws(UploadStore.Refusal) {
            url = try store.requestSlot(owner: owner, filename: filename, size: size, contentType: contentType)
        } catch {
            throw Self.stanzaError(for: error, limits: store.limits)
        }
        var slot = Element("slot", namespace: Self.namespace)
        slot.append(Element("put", namespace: Self.namespace, attributes: ["url": url]))
        slot.append(Element("get", namespace: Self.namespace, attributes: ["url": url]))
        return slot
    }

    /// The XEP-0363 §5 error for a refused slot request.
    static func stanzaError(for refusal: UploadStore.Refusal, limits: UploadLimits) -> StanzaError {
        switch refusal {
        case .tooLarge(let max):
            var tooLarge = Element("file-too-large", namespace: namespace)
            tooLarge.append(Element("max-file-size", namespace: namespace, text: String(max)))
            return StanzaError(.notAcceptable, type: .modify, text: "File too large. The maximum file size is \(max) bytes",
                               applicationCondition: tooLarge)
        case .quota:
            return StanzaError(.resourceConstraint, type: .wait, text: "upload quota reached: \(limits.quotaBytes) bytes per account")
        case .tooManySlots:
            return StanzaError(.resourceConstraint, type: .wait, text: "too many unused upload slots: upload into those first")
        case .unavailable:
            return StanzaError(.serviceUnavailable, text: "uploads need the HTTPS listener (https_port) or upload_url")
        }
    }

    /// `type/subtype`, optionally with parameters: printable ASCII without quotes or angle brackets.
    static func isPlainContentType(_ text: String) -> Bool {
        text.utf8.count <= 255 && text.contains("/")
            && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") || $0 == 0x20 }
    }
}
