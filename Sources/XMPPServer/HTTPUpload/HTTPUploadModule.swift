import XMPPCore
import XMPPServerKernel

/// HTTP file upload (XEP-0363): a service at `upload_domain` (`upload.<domain>` by default) hands out slots, and the
/// web listener's HTTPS port takes one PUT per slot and serves the file with GET (ranges too) until it expires.
/// Files live under `DATA_DIR/uploads`. Off with `upload_domain = off`; without the HTTPS listener (and no
/// `upload_url`), slot requests get `service-unavailable`.
public struct HTTPUploadModule: ServerModule {
    public let name = "http_upload"
    public let specifications = ["XEP-0363 1.1.0"]

    /// `upload_domain`: where the service runs.
    public static let domain = ConfigOption.string(
        "upload_domain", default: "", "the HTTP upload service's domain; empty means upload.DOMAIN, off turns the service off")
    /// `upload_url`: the base of the URLs handed out.
    public static let url = ConfigOption.string(
        "upload_url", default: "",
        "base URL of upload and download links (https://HOST[:PORT], behind a proxy); empty means https://DOMAIN:https_port")
    /// `upload_max_file_bytes`.
    public static let maxFileBytes = ConfigOption.integer(
        "upload_max_file_bytes", default: 104_857_600, range: 1...68_719_476_736,
        "largest file one upload slot may carry; a larger request gets not-acceptable with file-too-large")
    /// `upload_quota_bytes`.
    public static let quotaBytes = ConfigOption.integer(
        "upload_quota_bytes", default: 1_073_741_824, range: 1...1_099_511_627_776,
        "bytes one account may keep uploaded (files not yet expired plus open slots); beyond it resource-constraint")
    /// `upload_max_pending_slots`.
    public static let maxPendingSlots = ConfigOption.integer(
        "upload_max_pending_slots", default: 10, range: 1...1000, "unused upload slots one account may hold; one more gets resource-constraint")
    /// `upload_slot_timeout`.
    public static let slotTimeout = ConfigOption.integer(
        "upload_slot_timeout", default: 300, range: 10...86_400, "seconds an upload slot stays usable; afterwards its PUT gets 403")
    /// `upload_expiry`.
    public static let expiry = ConfigOption.integer(
        "upload_expiry", default: 604_800, range: 60...315_360_000, "seconds an uploaded file is served before it is deleted")
    /// `upload_bytes_per_second`.
    public static let bytesPerSecond = ConfigOption.integer(
        "upload_bytes_per_second", default: 10_485_760, range: 1024...1_073_741_824,
        "how fast one upload (PUT) is read from its connection, in bytes per second")

    public var options: [ConfigOption] {
        [Self.domain, Self.url, Self.maxFileBytes, Self.quotaBytes, Self.maxPendingSlots, Self.slotTimeout, Self.expiry,
         Self.bytesPerSecond]
    }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let configured: String = host.option(Self.domain)
        guard configured != "off" else { return }
        let domain = configured.isEmpty ? "upload.\(host.configuration.domain)" : configured.lowercased()
        guard domain != host.configuration.domain, JID(validating: domain) != nil else { return }
        let limits = UploadLimits(maxFileBytes: host.option(Self.maxFileBytes), quotaBytes: host.option(Self.quotaBytes),
                                  maxPendingSlots: host.option(Self.maxPendingSlots), slotSeconds: host.option(Self.slotTimeout),
                                  expirySeconds: host.option(Self.expiry), bytesPerSecond: host.option(Self.bytesPerSecond))
        host.addService(HTTPUploadService(domain: domain, store: UploadStore(limits: limits)))
    }

    /// The running service's store, if the module is active.
    static func store(of kernel: ServerKernel) -> UploadStore? {
        for domain in kernel.hostedServiceDomains {
            if let service = try? JID(domain), let upload = kernel.service(for: service) as? HTTPUploadService { return upload.store }
        }
        return nil
    }
}
