import XMPPCore
import XMPPServerKernel

/// Stream management (XEP-0198): acknowledgements both ways and resumption of a session on a new connection.
/// The counting and resumption live in the c2s pipeline (``StreamManagement``, the connection handler), since
/// they are part of the stream; this module declares the feature and its options, and the c2s listener offers stream
/// management only when the module is active.
public struct StreamManagementModule: ServerModule {
    public let name = "stream-management"
    public let specifications = ["XEP-0198 1.6.2"]

    /// `sm_resume_timeout`: how long a dropped session waits to be resumed.
    public static let resumeTimeout = ConfigOption.integer(
        "sm_resume_timeout", default: 300, range: 0...3600,
        "seconds a session whose connection dropped waits for resumption, keeping its presence and queueing what arrives; 0 turns resumption off")
    /// `sm_max_unacked`: the longest queue of unacknowledged stanzas.
    public static let maxUnacked = ConfigOption.integer(
        "sm_max_unacked", default: 1000, range: 10...100_000,
        "stanzas a session may have unacknowledged; past it a connected client is disconnected and a waiting session ends (its stanzas rerouted)")
    /// `sm_location`: where clients should reconnect to resume.
    public static let location = ConfigOption.string(
        "sm_location", default: "",
        "host:port clients are told to resume at (XEP-0198 location), for a cluster behind different addresses; empty: none")
    public var options: [ConfigOption] { [Self.resumeTimeout, Self.maxUnacked, Self.location] }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        host.addPostAuthenticationFeature(StreamManagementVocabulary.feature)
    }

    /// The settings the c2s listener uses, or `nil` when the kernel does not run this module.
    static func settings(of kernel: ServerKernel) -> StreamManagement.Settings? {
        guard kernel.postAuthenticationFeatures.contains(where: { $0.namespace == StreamManagementVocabulary.namespace }) else { return nil }
        let configuration = kernel.configuration
        let location: String = configuration.value(of: location)
        return StreamManagement.Settings(resumeTimeoutSeconds: configuration.value(of: resumeTimeout),
                                         maxUnacked: configuration.value(of: maxUnacked),
                                         location: location.isEmpty ? nil : location)
    }
}
