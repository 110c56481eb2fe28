import NIOCore
import XMPPCore
import XMPPServerKernel

extension HostedService {
    /// Answers an IQ request to the service on the spot: `answer` gives the result's payload or throws the stanza
    /// error; the reply goes back from the service's JID. Anything but an IQ request is dropped.
    func answerRequest(_ stanza: Element, to: JID, kernel: ServerKernel, eventLoop: any EventLoop,
                       _ answer: (IQ, _ from: JID) throws(StanzaError) -> Element?) -> EventLoopFuture<Void>? {
        guard stanza.name == "iq", let iq = IQ(element: stanza), let type = iq.type, type.isRequest,
              let from = stanza.attribute("from").flatMap(JID.init(validating:)) else { return nil }
        var reply: Element
        do {
            reply = iq.result(payload: try answer(iq, from)).element
        } catch {
            reply = kernel.errorReply(to: stanza, error)
        }
        reply.setAttribute("from", to: to.description)
        return kernel.deliverFromService(reply, to: from, eventLoop: eventLoop)
    }
}
