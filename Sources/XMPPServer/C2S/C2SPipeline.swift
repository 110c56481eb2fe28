import Logging
import NIOCore
import NIOSSL
import NIOTLS
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// Builds the channel pipeline of an accepted c2s connection:
/// `[TLS (direct TLS only)] → read-rate limiter → stream decoder → stream encoder → connection handler`.
/// STARTTLS later inserts the TLS handler at the front. With virtual hosts, direct TLS starts with an SNI reader
/// instead, which puts the TLS handler with the named domain's certificate in its place.
enum C2SPipeline {
    static func configure(_ channel: any Channel, shared: C2SConnectionHandler.Shared, directTLS: Bool) throws {
        let operations = channel.pipeline.syncOperations
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        let addressKey = AddressGrouping.key(address, ipv6PrefixLength: shared.limits.ipv6PrefixLength)
        let encoder = XMPPStreamEncoder(contentNamespace: XMLNamespace.client)
        let isRefused = !shared.connections.open(addressKey, limit: shared.limits.connectionsPerIP)
        if directTLS, let tls = shared.tls {
            // A refusal goes out encrypted too, with the first domain's certificate.
            if shared.hosts == nil || isRefused {
                try operations.addHandler(NIOSSLServerHandler(context: tls.context))
            } else {
                try operations.addHandler(ByteToMessageHandler(SNIHandler { [unowned channel] sni in
                    do {
                        try presentCertificate(for: sni, on: channel, shared: shared)
                    } catch {
                        // Nothing would read what the SNI reader holds: the connection goes.
                        channel.close(promise: nil)
                    }
                    return channel.eventLoop.makeSucceededVoidFuture()
                }), name: sniReaderName)
            }
        }
        guard !isRefused else {
            shared.logger.notice("connection refused: too many from one address", metadata: ["peer": "\(address)"])
            try operations.addHandlers([encoder, RefusingHandler(domain: shared.kernel.configuration.domain)])
            return
        }
        let decoder = XMPPStreamDecoder(limits: XMLParserLimits(maxStanzaBytes: shared.limits.maxStanzaBytes))
        let gate = ReadGate()
        try operations.addHandlers([
            ReadRateLimiter(bytesPerSecond: shared.limits.readBytesPerSecond, burst: shared.limits.readBurstBytes, gate: gate,
                            metrics: shared.metrics),
            decoder,
            encoder,
            C2SConnectionHandler(shared: shared, decoder: decoder, remoteAddress: address, addressKey: addressKey,
                                 isSecured: directTLS, channelBinding: directTLS ? shared.channelBindingData : nil, gate: gate,
                                 listener: directTLS ? .directTLS : .startTLS),
        ])
    }

    private static let sniReaderName = "c2s-sni"

    /// The client hello named `sni` (or nothing): the TLS handler with that domain's certificate (the first domain's
    /// for an unknown name) takes the SNI reader's place, and the connection handler takes that domain.
    private static func presentCertificate(for sni: SNIResult, on channel: any Channel, shared: C2SConnectionHandler.Shared) throws {
        let host = shared.hosts?.shared(for: sni) ?? shared
        guard let tls = host.tls else { return }
        let operations = channel.pipeline.syncOperations
        let reader = try operations.context(name: sniReaderName)
        try operations.addHandler(NIOSSLServerHandler(context: tls.context), position: .after(reader.handler))
        try operations.handler(type: C2SConnectionHandler.self).presentCertificate(of: host)
    }
}

/// Answers a connection over a connection limit with a `policy-violation` stream error and closes it.
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = XMPPOutbound
    let domain: String
    let contentNamespace: String
    let text: String

    init(domain: String, contentNamespace: String = XMLNamespace.client, text: String = "too many connections from your address") {
        self.domain = domain
        self.contentNamespace = contentNamespace
        self.text = text
    }

    func channelActive(context: ChannelHandlerContext) {
        let header = StreamHeader(from: domain, id: StanzaID.make(), version: "1.0", contentNamespace: contentNamespace)
        context.write(wrapOutboundOut(.header(header)), promise: nil)
        context.write(wrapOutboundOut(.element(StreamError(.policyViolation, text: text).element)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.close)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
