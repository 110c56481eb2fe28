import Foundation
import NIOCore
import XMPPCore
import XMPPServerKernel
import XMPPTransport

// How an outgoing stream authenticates our sending domain once the features are in (RFC 6120 §13.7.1.3): SASL
// EXTERNAL with our certificate (XEP-0178), dialback (XEP-0220) when it is not offered or failed (on a new
// connection then), and under `s2s_secure_auth` the remote's certificate checked first; for a verification stream,
// the `db:verify` question and its answer.
extension OutgoingServerStream {
    func negotiate(_ features: Element, context: ChannelHandlerContext) {
        if !isSecured, features.child("starttls", namespace: Dialback.tlsNamespace) != nil {
            state = .awaitingProceed
            context.writeAndFlush(wrapOutboundOut(.element(Element("starttls", namespace: Dialback.tlsNamespace))), promise: nil)
            return
        }
        if !isSecured && settings.requireTLS {
            return fail("\(remote) does not offer STARTTLS, and s2s_require_tls is on", context: context)
        }
        switch purpose {
        case .route where isSASLDone:
            ready(by: .certificate, context: context)
        case .route:
            // EXTERNAL means the TLS certificate: never without TLS.
            let offersExternal = allowExternal && environment.tryExternal && isSecured && features.child("mechanisms", namespace: XMLNamespace.sasl)?
                .children("mechanism", namespace: XMLNamespace.sasl)
                .contains { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) == "EXTERNAL" } ?? false
            guard settings.secureAuth else {
                return offersExternal ? requestExternal(context: context) : requestDialback(context: context)
            }
            guard offersExternal else {
                return fail("\(remote) does not accept our certificate (no SASL EXTERNAL), and s2s_secure_auth is on", context: context)
            }
            checkRemoteCertificate(context: context)
        case .verify(let key, let verifiedStream, _):
            state = .awaitingAnswer
            let request = Dialback.element("verify", from: local, to: remote, id: verifiedStream, key: key)
            context.writeAndFlush(wrapOutboundOut(.element(request)), promise: nil)
        }
    }

    /// `s2s_secure_auth`: the remote must prove its domain too, by a certificate that names it (RFC 6120 §13.7.2).
    func checkRemoteCertificate(context: ChannelHandlerContext) {
        state = .checkingCertificate
        let (trust, presented, remote) = (environment.trust, presented ?? PresentedCertificates(), remote)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.makeFutureWithTask { await trust.authenticates(presented, as: remote) }.whenSuccess { named in
            let (stream, context) = loopBound.value
            guard case .checkingCertificate = stream.state else { return }
            guard named else {
                return stream.fail("the certificate of \(remote) does not verify for its domain, and s2s_secure_auth is on", context: context)
            }
            stream.requestExternal(context: context)
        }
    }

    /// SASL EXTERNAL (XEP-0178), with our domain as the authorization identity (what Prosody and ejabberd expect).
    func requestExternal(context: ChannelHandlerContext) {
        state = .awaitingSASLOutcome
        var auth = Element("auth", namespace: XMLNamespace.sasl, attributes: ["mechanism": "EXTERNAL"])
        auth.append(text: Data(local.utf8).base64EncodedString())
        context.writeAndFlush(wrapOutboundOut(.element(auth)), promise: nil)
    }

    func saslOutcome(_ outcome: Element, context: ChannelHandlerContext) {
        switch outcome.name {
        case "success":
            isSASLDone = true
            decoder.resetStream()
            state = .awaitingHeader
            openStream(context: context)
        case "failure" where !settings.secureAuth:
            // The remote did not take our certificate for our domain (a service domain it does not name, another
            // CA, self-signed): dialback, on a new connection — servers differ on dialback after a failed SASL on
            // the same stream (ejabberd takes none), and RFC 6120 §6.4.5 lets the receiving side close it anyway.
            retryWithDialback(context: context)
        case "failure":
            fail("\(remote) refused our certificate (SASL failure), and s2s_secure_auth is on", context: context)
        case "challenge":
            // EXTERNAL has nothing to say in a response (RFC 4422 appendix A): an empty one.
            context.writeAndFlush(wrapOutboundOut(.element(Element("response", namespace: XMLNamespace.sasl))), promise: nil)
        default:
            fail("\(remote) answered SASL EXTERNAL with \(outcome.name)", context: context)
        }
    }

    func retryWithDialback(context: ChannelHandlerContext) {
        guard case .route(let links, let attempt) = purpose else { return }
        state = .handedOver
        setupTimer?.cancel()
        let (route, settings, environment) = (Route(local: local, remote: remote), settings, environment)
        // The route's own deadline (s2s_setup_seconds) still runs: the second connection does not get more time.
        Self.open(route, purpose: purpose, settings: settings, environment: environment, allowExternal: false).whenFailure { _ in
            links.failed(route, attempt: attempt, StanzaError(.remoteServerNotFound, text: "cannot connect to \(route.remote)"))
        }
        closeStream(context: context)
    }

    func requestDialback(context: ChannelHandlerContext) {
        state = .awaitingAnswer
        let key = Dialback.key(secret: settings.secret, receiving: remote, originating: local, streamID: streamID)
        context.writeAndFlush(wrapOutboundOut(.element(Dialback.element("result", from: local, to: remote, key: key))), promise: nil)
    }

    func answered(_ answer: Element, context: ChannelHandlerContext) {
        let valid = answer.attribute("type") == "valid"
        switch purpose {
        case .route where answer.name == "result":
            guard valid, answer.attribute("from") == remote else {
                // type='error': the remote could not check (often: it cannot reach us on our s2s port, or our
                // domain's DNS does not point here); type='invalid': it checked and said no.
                let reason = answer.attribute("type") == "error"
                    ? "\(remote) could not verify our dialback key (can it reach this server's s2s port by our domain's DNS?)"
                    : "\(remote) did not accept our dialback key"
                return fail(reason, context: context)
            }
            ready(by: .dialback, context: context)
        case .verify(_, let verifiedStream, let promise) where answer.name == "verify" && answer.attribute("id") == verifiedStream:
            state = .done
            promise.succeed(valid && answer.attribute("from") == remote)
            closeStream(context: context)
        default:
            break
        }
    }
}
