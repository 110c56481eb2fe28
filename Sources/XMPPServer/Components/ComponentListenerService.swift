import Logging
import NIOCore
import NIOPosix
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// The external component listener (XEP-0114) on ``ServerConfiguration/componentPort``, on
/// ``ServerConfiguration/componentInterfaces`` (loopback by default): components run beside the server.
public final class ComponentListenerService: ServerService, Sendable {
    public let name = "components"
    private let configuration: ServerConfiguration
    private let kernel: ServerKernel
    private let links: ComponentLinks
    private let group: any EventLoopGroup
    private let logger: Logger
    private let listeners = ListenerSet()

    init(configuration: ServerConfiguration, kernel: ServerKernel, links: ComponentLinks, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.kernel = kernel
        self.links = links
        self.group = group
        self.logger = logger
    }

    /// The ports bound (useful with port 0).
    public var boundPorts: [Int] { listeners.ports }

    public func start() async throws {
        guard listeners.begin() else { return }
        guard let port = configuration.componentPort, !configuration.components.isEmpty else { return }
        let (secrets, links, kernel, logger) = (configuration.components, links, kernel, logger)
        let limits = XMLParserLimits(maxStanzaBytes: configuration.limits.maxStanzaBytes)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            // Unwritable (and so bouncing what is sent to it) only once this much waits for a component that does not read.
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: C2SService.waterMark(for: configuration.limits.maxOutboundBytes))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        XMPPStreamDecoder(limits: limits), XMPPStreamEncoder(contentNamespace: XMLNamespace.component),
                        ComponentConnectionHandler(secrets: secrets, links: links, kernel: kernel, logger: logger),
                    ])
                }
            }
        do {
            let channels = try await ListenerBinding.bind(bootstrap, port: port, addresses: configuration.componentInterfaces,
                                                          kind: "components (XEP-0114)", logger: logger)
            listeners.add(channels)
        } catch {
            await stop()
            throw error
        }
    }

    public func stop() async {
        await listeners.closeAll()
    }
}
