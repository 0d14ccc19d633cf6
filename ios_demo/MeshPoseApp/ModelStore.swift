import CoreML
import Foundation

/// Finds the exported model in the app bundle, compiles it once (cached across launches) and
/// loads it once per compute-unit setting.
///
/// Two ways to ship it, both without editing code: drop `<name>.mlpackage` and its `<name>.json`
/// into ios_demo/MeshPoseApp/Models/ (a folder reference copied into the bundle as is; the app
/// compiles the package on first launch), or add the .mlpackage to the target in Xcode (Xcode
/// compiles it to `<name>.mlmodelc`; put the .json in Models/ for the faces).
enum ModelStore {
    struct Located {
        let modelURL: URL
        let name: String
        let sidecarCandidates: [URL]
    }

    static var modelsFolder: URL? { Bundle.main.url(forResource: "Models", withExtension: nil) }

    static func locate() throws -> Located {
        let fm = FileManager.default
        var found: [URL] = []
        if let folder = modelsFolder, let items = try? fm.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil) {
            found += items.filter { ["mlpackage", "mlmodelc"].contains($0.pathExtension) }
        }
        if let resources = Bundle.main.resourceURL, let items = try? fm.contentsOfDirectory(at: resources, includingPropertiesForKeys: nil) {
            found += items.filter { $0.pathExtension == "mlmodelc" }
        }
        // A MeshPose export is named meshpose_<variant>_<precision>; prefer it over other models.
        found.sort { l, r in
            let lm = l.lastPathComponent.hasPrefix("meshpose")
            let rm = r.lastPathComponent.hasPrefix("meshpose")
            return lm != rm ? lm : l.lastPathComponent < r.lastPathComponent
        }
        guard let model = found.first else {
            throw MeshPoseError(
                "no model in the app: export one (meshpose-export --target coreml --precision fp16), copy the .mlpackage "
                    + "and its .json into ios_demo/MeshPoseApp/Models/ and build again",
                kind: .io
            )
        }
        let name = model.deletingPathExtension().lastPathComponent
        var candidates: [URL] = []
        for base in [modelsFolder, Bundle.main.resourceURL].compactMap({ $0 }) {
            candidates.append(base.appendingPathComponent("\(name).json"))
            candidates.append(base.appendingPathComponent("\(name).mlpackage.json"))
        }
        return Located(modelURL: model, name: name, sidecarCandidates: candidates)
    }

    struct Prepared {
        let compiledURL: URL
        let sidecar: Sidecar
        let artifactName: String
        let artifactBytes: Int
        /// nil when the compiled model came from the cache.
        let compileSeconds: Double?
    }

    /// Locate, compile (or take from the cache) and read the sidecar. Slow on first launch: call
    /// off the main thread.
    static func prepare() throws -> Prepared {
        let located = try locate()
        let compiled = try CompiledModelCache.compiledModel(for: located.modelURL)
        let sidecar = try MeshPoseModel.sidecar(
            for: compiled.compiledURL, besideFiles: located.sidecarCandidates, artifactName: located.modelURL.lastPathComponent
        )
        return Prepared(
            compiledURL: compiled.compiledURL, sidecar: sidecar, artifactName: located.modelURL.lastPathComponent,
            artifactBytes: directorySize(located.modelURL), compileSeconds: compiled.compileSeconds
        )
    }
}
