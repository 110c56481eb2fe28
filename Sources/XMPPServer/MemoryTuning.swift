#if canImport(Glibc)
import Glibc
#endif

/// Process-wide allocator settings for a server holding many mostly idle TLS connections.
///
/// Each connection keeps a few buffers of 16-32 KiB (swift-nio-ssl's TLS record and plaintext buffers) of
/// which an idle connection touches one page or two. From glibc's heap such a buffer often reuses memory
/// that earlier, transient buffers dirtied, so all of it stays resident; mapped on its own, only the pages
/// actually written count. Below the threshold (reads are capped at 8 KiB, see `C2SPipeline`) allocation
/// stays on the fast heap path.
public enum MemoryTuning {
    /// Allocations of at least this many bytes get their own mapping.
    public static let mmapThreshold = 16 * 1024

    /// Applies the settings (glibc only; elsewhere nothing happens). Call once, early in `main`.
    public static func apply() {
        #if canImport(Glibc)
        _ = glibcMallopt(glibcMmapThresholdParameter, Int32(mmapThreshold))
        #endif
    }
}

#if canImport(Glibc)
// <malloc.h> is not part of the Glibc module map; these are its declaration and M_MMAP_THRESHOLD's value.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
private let glibcMmapThresholdParameter: Int32 = -3
#endif
