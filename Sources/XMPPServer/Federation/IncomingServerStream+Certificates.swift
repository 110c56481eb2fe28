import Foundation
import Logging
import NIOCore
import XMPPCore
import XMPPServerKernel
import XMPPTransport

// Certificates on an incoming stream: SASL EXTERNAL for the domain the stream header claims when the remote's
// certificate names it (RFC 6120 §6, XEP-0178), and the certificate's word for a dialback request (XEP-0344).
extension IncomingServerStream {
    /// Whether the certificate the remote presented in the TLS handshake authenticates `domain` (false without TLS,
    /// without a certificate, or when it does not verify).
    func certificateNames(_ domain: String, context: ChannelHandlerContext) -> EventLoopFuture<Bool> {
        guard let trust, let presented, !presented.chain.isEmpty else { return context.eventLoop.makeSucceededFuture(false) }
        return context.eventLoop.makeFutureWithTask { await trust.authenticates(presented, as: domain) }
    }

    /// `<auth mechanism='EXTERNAL'>`: the remote asks to be the domain its certificate names. The initial response is
    /// empty, `=`, or that domain in base64 (an authorization identity that must be the stream's `from`).
    func saslAuth(_ auth: Element, context: ChannelHandlerContext) {
        guard isSecured else { return close(with: StreamError(.policyViolation, text: "STARTTLS first"), context: context) }
        guard !isSASLDone else {
            return close(with: StreamError(.policyViolation, text: "already authenticated"), context: context)
        }
        // SASL authenticates the stream before anything else does (RFC 6120 §6.4.6: what came before would be forgotten).
        guard remoteDomains.isEmpty else {
            return saslFailure(.notAuthorized, text: "this stream authenticated a domain by dialback already", context: context)
        }
        guard auth.attribute("mechanism") == "EXTERNAL" else { return saslFailure(.invalidMechanism, context: context) }
        guard let domain = certifiedDomain, settings.permits(domain) else {
            return saslFailure(.notAuthorized, text: "the certificate does not name the stream's domain", context: context)
        }
        let response = auth.text.trimmingCharacters(in: .whitespacesAndNewlines)
        if !response.isEmpty, response != "=" {
            guard let decoded = Data(base64Encoded: response).map({ String(decoding: $0, as: UTF8.self) }) else {
                return saslFailure(.incorrectEncoding, context: context)
            }
            guard decoded.lowercased() == domain else { return saslFailure(.invalidAuthzid, context: context) }
        }
        isSASLDone = true
        remoteDomains.insert(domain)
        links.incomingAuthenticated(domain)
        links.authenticated(by: .certificate)
        logger.notice("server-to-server stream ready", metadata: ["domain": "\(domain)", "direction": "in", "by": "certificate"])
        write(Element("success", namespace: XMLNamespace.sasl), context: context)
        restartStream()
    }

    func saslFailure(_ condition: SASLFailureCondition, text: String? = nil, context: ChannelHandlerContext) {
        saslFailures += 1
        var failure = Element("failure", namespace: XMLNamespace.sasl)
        failure.append(Element(condition.rawValue, namespace: XMLNamespace.sasl))
        if let text {
            var words = Element("text", namespace: XMLNamespace.sasl)
            words.append(text: text)
            failure.append(words)
        }
        write(failure, context: context)
        // RFC 6120 §6.4.5: a few retries, no more.
        if saslFailures >= 3 { close(with: StreamError(.policyViolation, text: "too many failed authentications"), context: context) }
    }

    /// How a dialback request for `route` is judged before (or instead of) calling back: a certificate that names the
    /// claimed domain is enough (XEP-0344 §2.4); without one, `s2s_secure_auth` refuses, else the authoritative server
    /// is asked.
    func judgeDialback(_ key: String, _ route: Route, context: ChannelHandlerContext) -> EventLoopFuture<ServerLinks.Verification> {
        let (links, settings, streamID, eventLoop) = (links, settings, streamID, context.eventLoop)
        return certificateNames(route.remote, context: context).flatMap { named in
            if named { return eventLoop.makeSucceededFuture(.certified) }
            if settings.secureAuth { return eventLoop.makeSucceededFuture(.refused) }
            return links.verify(key: key, streamID: streamID, route, on: eventLoop)
        }
    }
}

/// The `<failure/>` conditions of RFC 6120 §6.5 this side sends.
enum SASLFailureCondition: String {
    case invalidMechanism = "invalid-mechanism"
    case notAuthorized = "not-authorized"
    case incorrectEncoding = "incorrect-encoding"
    case invalidAuthzid = "invalid-authzid"
    case aborted
}
