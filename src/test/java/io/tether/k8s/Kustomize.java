package io.tether.k8s;

import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Renders a kustomization the way {@code kubectl kustomize} does, for the features the manifests in
 * {@code k8s/} use: {@code resources} (files, or directories holding a kustomization),
 * {@code patches} given by {@code path} (strategic merge: maps merge, lists of named objects merge by
 * name, other lists are replaced) and {@code configMapGenerator} from {@code files} without a name hash. Any other kustomization field fails the render, so a manifest that
 * starts using one cannot be validated against a wrong rendering. Where {@code kubectl} is installed,
 * {@link K8sManifestsTest} also checks this rendering against it.
 */
final class Kustomize {

  private static final Set<String> SUPPORTED = Set.of("apiVersion", "kind", "resources", "patches",
      "configMapGenerator");

  private Kustomize() {
  }

  static List<Map<String, Object>> render(Path dir) {
    Map<String, Object> kustomization = single(dir.resolve("kustomization.yaml"));
    for (String key : kustomization.keySet()) {
      if (!SUPPORTED.contains(key)) {
        throw new IllegalArgumentException(dir + ": kustomization field '" + key + "' is not supported by this renderer");
      }
    }
    List<Map<String, Object>> objects = new ArrayList<>();
    for (Object resource : list(kustomization.get("resources"))) {
      Path path = dir.resolve((String) resource).normalize();
      objects.addAll(Files.isDirectory(path) ? render(path) : documents(path));
    }
    for (Object entry : list(kustomization.get("configMapGenerator"))) {
      objects.add(configMap(dir, entry));
    }
    for (Object entry : list(kustomization.get("patches"))) {
      @SuppressWarnings("unchecked")
      Map<String, Object> patchRef = (Map<String, Object>) entry;
      if (patchRef.keySet().size() != 1 || !patchRef.containsKey("path")) {
        throw new IllegalArgumentException(dir + ": only patches given by path are supported");
      }
      Map<String, Object> patch = single(dir.resolve((String) patchRef.get("path")));
      Map<String, Object> target = objects.stream()
          .filter(o -> Objects.equals(o.get("kind"), patch.get("kind")) && Objects.equals(name(o), name(patch)))
          .findFirst()
          .orElseThrow(() -> new IllegalArgumentException(dir + ": patch " + patchRef.get("path") + " matches no resource"));
      merge(target, patch);
    }
    return objects;
  }

  /** A generated ConfigMap: each of {@code files} under its file name; only a name without hash is supported. */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> configMap(Path dir, Object entry) {
    Map<String, Object> generator = (Map<String, Object>) entry;
    if (!Set.of("name", "files", "options").containsAll(generator.keySet())) {
      throw new IllegalArgumentException(dir + ": configMapGenerator fields " + generator.keySet() + " are not supported");
    }
    Map<String, Object> options = (Map<String, Object>) generator.getOrDefault("options", Map.of());
    if (!Set.of("disableNameSuffixHash", "labels").containsAll(options.keySet())
        || !Boolean.TRUE.equals(options.get("disableNameSuffixHash"))) {
      throw new IllegalArgumentException(dir + ": only configMapGenerator options disableNameSuffixHash: true and labels");
    }
    Map<String, Object> data = new LinkedHashMap<>();
    for (Object file : list(generator.get("files"))) {
      Path path = dir.resolve((String) file);
      try {
        data.put(path.getFileName().toString(), Files.readString(path));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    Map<String, Object> metadata = new LinkedHashMap<>();
    metadata.put("name", generator.get("name"));
    if (options.containsKey("labels")) {
      metadata.put("labels", new LinkedHashMap<>((Map<String, Object>) options.get("labels")));
    }
    Map<String, Object> configMap = new LinkedHashMap<>();
    configMap.put("apiVersion", "v1");
    configMap.put("kind", "ConfigMap");
    configMap.put("metadata", metadata);
    configMap.put("data", data);
    return configMap;
  }

  static List<Map<String, Object>> documents(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<Map<String, Object>> out = new ArrayList<>();
    for (Object doc : new Load(LoadSettings.builder().build()).loadAllFromString(text)) {
      if (doc != null) {
        @SuppressWarnings("unchecked")
        Map<String, Object> object = (Map<String, Object>) doc;
        out.add(new LinkedHashMap<>(object));
      }
    }
    return out;
  }

  static String name(Map<String, Object> object) {
    Object metadata = object.get("metadata");
    return metadata instanceof Map<?, ?> m ? (String) m.get("name") : null;
  }

  private static Map<String, Object> single(Path file) {
    List<Map<String, Object>> docs = documents(file);
    if (docs.size() != 1) {
      throw new IllegalArgumentException(file + " must hold exactly one document");
    }
    return docs.get(0);
  }

  private static List<?> list(Object value) {
    return value == null ? List.of() : (List<?>) value;
  }

  @SuppressWarnings("unchecked")
  private static void merge(Map<String, Object> target, Map<String, Object> patch) {
    for (Map.Entry<String, Object> entry : patch.entrySet()) {
      Object current = target.get(entry.getKey());
      Object change = entry.getValue();
      if (current instanceof Map<?, ?> a && change instanceof Map<?, ?> b) {
        Map<String, Object> copy = new LinkedHashMap<>((Map<String, Object>) a);
        merge(copy, (Map<String, Object>) b);
        target.put(entry.getKey(), copy);
      } else if (current instanceof List<?> a && change instanceof List<?> b && named(a) && named(b)) {
        List<Object> merged = new ArrayList<>(a);
        for (Object item : b) {
          Map<String, Object> incoming = (Map<String, Object>) item;
          int at = -1;
          for (int i = 0; i < merged.size(); i++) {
            if (Objects.equals(((Map<String, Object>) merged.get(i)).get("name"), incoming.get("name"))) {
              at = i;
            }
          }
          if (at < 0) {
            merged.add(incoming);
          } else {
            Map<String, Object> copy = new LinkedHashMap<>((Map<String, Object>) merged.get(at));
            merge(copy, incoming);
            merged.set(at, copy);
          }
        }
        target.put(entry.getKey(), merged);
      } else {
        target.put(entry.getKey(), change);
      }
    }
  }

  private static boolean named(List<?> items) {
    return !items.isEmpty() && items.stream().allMatch(i -> i instanceof Map<?, ?> m && m.get("name") != null);
  }
}
