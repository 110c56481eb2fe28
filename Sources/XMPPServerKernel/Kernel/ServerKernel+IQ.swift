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
            if !sendRemote(element, to: addressee) { bounce(element, Self.noFederation, to: session) }
            return nil
        }
        if addressee.isFull {
            if let entry = registry.entry(addressee) {
                guard let element = filterInbound(element, to: addressee, from: session.jid) else { return nil }
                entry.session.deliver(element)
            } else if type.isRequest {
                bounce(element, StanzaError(.serviceUnavailable), to: session)
            }
            return nil
        }
        // Replies addressed to the server or an account end here, after answering the server's own requests.
        if !type.isRequest {
            if addressee == domainJID { _ = serverRequests.complete(with: element, from: session.jid) }
            return nil
        }
        guard type.isRequest, let namespace = iq.payload?.namespace else { return nil }
        let target: IQTarget = addressee.localpart == nil ? .server : addressee == session.jid.bare ? .ownAccount : .otherAccount
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
        if explicitTo == nil { request.iq.element.setAttribute("to", to: nil) }
        guard let (reply, afterReply) = await reply(to: request, with: handler) else { return }
        var delivered = reply
        if explicitTo == nil { delivered.setAttribute("from", to: nil) }
        session.deliver(delivered)
        afterReply?()
    }

    /// Runs `handler` and builds the result or the error reply; the work to do once the reply is out, if any.
    /// `nil` when an inbound filter stopped the request (and answered it, if it said so).
    private func reply(to request: IQRequest, with handler: IQHandler) async -> (Element, (@Sendable () -> Void)?)? {
        do {
            if let user = request.to.localpart, !request.isFromOwner {
                // Another account: it must exist, and its inbound filters (a blocklist) have a say.
                guard try await storage.accounts.accountExists(user) else { throw StanzaError(.serviceUnavailable) }
                if !hooks.inboundFilters.isEmpty {
                    await prepareInbound(to: request.to)
                    guard filterInbound(request.iq.element, to: request.to) != nil else { return nil }
                }
            }
            let answer = try await handler(request)
            if let observers = hooks.iqObservers[request.payload.namespace] {
                for observer in observers { await observer(request, answer) }
            }
            return (request.iq.result(payload: answer.payload).element, answer.afterReply)
        } catch let error as StanzaError {
            return (errorReply(to: request.iq.element, error), nil)
        } catch {
            logger.error("iq handler failed", metadata: ["namespace": "\(request.payload.namespace)", "error": "\(error)"])
            return (errorReply(to: request.iq.element, StanzaError(.internalServerError)), nil)
        }
    }

    /// Answers an IQ request a hosted service sent to a local account's bare JID or to the server, as the server
    /// answers clients (RFC 6120 §10.5.3.3: the server handles requests to bare JIDs), and hands the reply back
    /// to the service. Used when a chat room passes on one occupant's vCard request about another.
    func answerServiceRequest(_ element: Element, to: JID, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        guard let from = element.attribute("from").flatMap({ JID(validating: $0) }), let service = services[from.domainpart] else { return nil }
        return answerRequest(element, from: from, to: to, eventLoop: eventLoop) { reply in
            try? await service.receive(reply, to: from, kernel: self, eventLoop: eventLoop)?.get()
        }
    }

    /// Answers an IQ request from an entity without a session here (a hosted service, a remote server's user) to a
    /// local account's bare JID or to the server, with the handlers clients reach; `replying` sends the answer back.
    func answerRequest(_ element: Element, from: JID, to: JID, eventLoop: any EventLoop,
                       replying: @escaping @Sendable (Element) async -> Void) -> EventLoopFuture<Void>? {
        guard let iq = IQ(element: element), iq.isValid, let type = iq.type, type.isRequest else { return nil }
        let target: IQTarget = to.localpart == nil ? .server : .otherAccount
        let request = IQRequest(iq: iq, from: from, to: to.bare, kernel: self, session: nil)
        let handler = iq.payload.flatMap { iqHandlers[target]?[$0.namespace] }
        // Always later, never on the spot: the service may be sending this under a lock of its own.
        return run(on: eventLoop) {
            // A request a filter stopped is answered too: the sender waits for a reply (and never learns why).
            let answer: Element? = if let handler { await self.reply(to: request, with: handler)?.0 } else { nil }
            await replying(answer ?? self.errorReply(to: element, StanzaError(.serviceUnavailable)))
        }
    }
}
