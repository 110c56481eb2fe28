/// What the session of a stream calls when the stream restarts (after STARTTLS or SASL success): the decoder in
/// front of it must expect a new stream header and drop what the peer sent before it.
public protocol StreamRestarting: AnyObject {
    /// Expects a new stream header; called on the channel's event loop.
    func resetStream()
}

extension XMPPStreamDecoder: StreamRestarting {}
