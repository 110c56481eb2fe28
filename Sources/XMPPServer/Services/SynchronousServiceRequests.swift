import NIOCore
import XMPPCore
import XMPPServerKernel

extension HostedService {
    /// Answers an IQ request to the service on the spot: `answer` gives the result's payload or throws the stanza
    /// error; the reply goes back from the service's JID. Anything but an IQ request is dropped.
    /// With `replyingAfter`, a successful answer's reply waits for the future it gives (work the requester must see
    /// done before it hears back).
    func answerRequest(_ stanza: Element, to: JID, kernel: ServerKernel, eventLoop: any EventLoop,
                       replyingAfter pending: () -> EventLoopFuture<Void>? = { nil },
                       _ answer: (IQ, _ from: JID) throws(StanzaError) -> Element?) -> EventLoopFuture<Void>? {
        guard stanza.name == "iq", let iq = IQ(element: stanza), let type = iq.type, type.isRequest,
              let from = stanza.attribute("from").flatMap(JID.init(validating:)) else { return nil }
        var reply: Element
        var wait: EventLoopFuture<Void>?
        do {
            reply = iq.result(payload: try answer(iq, from)).element
            wait = pending()
        } catch {
            reply = kernel.errorReply(to: stanza, error)
        }
        reply.setAttribute("from", to: to.description)
        guard let wait else { return kernel.deliverFromService(reply, to: from, eventLoop: eventLoop) }
        return wait.hop(to: eventLoop).flatMap { [reply] in
            kernel.deliverFromService(reply, to: from, eventLoop: eventLoop) ?? eventLoop.makeSucceededVoidFuture()
        }
    }
}
