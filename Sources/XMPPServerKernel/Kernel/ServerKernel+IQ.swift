import Logging
import NIOCore
import XMPPCore

// IQ routing (RFC 6120 §8.2.3, §10.3): requests to the server or an account go to the module registered for
// the payload's namespace; requests to a full JID go to that session; anything unhandled is answered with
// `service-unavailable`, never silence.
extension ServerKernel {
    func processIQ(_ element: Element, to: JID?, from session: any ClientSession) -> EventLoopFuture<Void>? {
        guard let iq = IQ(element: element), iq.isValid, let type = iq.type else {
            bounce(element, StanzaError(.badRequest, text: "an iq needs an id, a type and, for get and set, one child"), to: session)
            return nil
        }
        let addressee = to ?? session.jid.bare
        guard isLocal(addressee) else {
            bounce(element, StanzaError(.remoteServerNotFound, text: "this server does not federate yet"), to: session)
            return nil
        }
        if addressee.isFull {
            if let entry = registry.entry(addressee) {
                entry.session.deliver(element)
            } else if type.isRequest {
                bounce(element, StanzaError(.serviceUnavailable), to: session)
            }
            return nil
        }
        // Replies addressed to the server or an account (answers to server pings, for instance) end here.
        guard type.isRequest, let namespace = iq.payload?.namespace else { return nil }
        let target: IQTarget = addressee.localpart == nil ? .server : .account
        var handler = iqHandlers[target]?[namespace]
        var resolved = addressee
        if handler == nil && to == nil, let serverHandler = iqHandlers[.server]?[namespace] {
            // No `to`: the account is asked first, then the server (ping and disco without `to`).
            handler = serverHandler
            resolved = domainJID
        }
        guard let handler else {
            bounce(element, StanzaError(.serviceUnavailable), to: session)
            return nil
        }
        let request = IQRequest(iq: iq, from: session.jid, to: resolved, kernel: self, session: session)
        return run(on: session.eventLoop) { await self.answer(request, with: handler, session: session, explicitTo: to) }
    }

    private func answer(_ request: IQRequest, with handler: IQHandler, session: any ClientSession, explicitTo: JID?) async {
        var request = request
        var reply: Element
        do {
            if request.to.localpart != nil, !request.isFromOwner,
               try await !storage.accounts.accountExists(request.to.localpart!) {
                throw StanzaError(.serviceUnavailable)
            }
            if explicitTo == nil { request.iq.element.setAttribute("to", to: nil) }
            let answer = try await handler(request)
            var result = request.iq.result(payload: answer.payload)
            if explicitTo == nil { result.element.setAttribute("from", to: nil) }
            session.deliver(result.element)
            answer.afterReply?()
            return
        } catch let error as StanzaError {
            reply = errorReply(to: request.iq.element, error)
        } catch {
            logger.error("iq handler failed", metadata: ["namespace": "\(request.payload.namespace)", "error": "\(error)"])
            reply = errorReply(to: request.iq.element, StanzaError(.internalServerError))
        }
        if explicitTo == nil { reply.setAttribute("from", to: nil) }
        session.deliver(reply)
    }
}
