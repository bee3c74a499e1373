package io.tether.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Drives {@code scripts/cluster.sh} from tests: real JVMs on loopback, killed with real signals. Uses
 * its own port range and cluster name so it never meets a cluster started by hand.
 */
public final class LocalCluster implements AutoCloseable {

  private final Path root;
  private final Map<String, String> env = new HashMap<>();
  private final int basePort;

  public LocalCluster(int basePort, int clusterBasePort) {
    this.root = Path.of("").toAbsolutePath();
    this.basePort = basePort;
    env.put("TETHER_BASE_PORT", Integer.toString(basePort));
    env.put("TETHER_CLUSTER_BASE_PORT", Integer.toString(clusterBasePort));
    env.put("TETHER_CLUSTER_NAME", "failover-it-" + ProcessHandle.current().pid());
    env.put("TETHER_JVM_OPTS", "-Xmx384m");
    env.put("TETHER_HEARTBEAT_SECONDS", "2");
    env.put("TETHER_LEASE_SECONDS", "2");
  }

  /** Sets an environment variable of the nodes started from now on (any {@code TETHER_*} setting). */
  public LocalCluster env(String name, String value) {
    env.put(name, value);
    return this;
  }

  /**
   * The address node {@code i} listens on: loopback, or its network namespace's address when the cluster
   * runs with {@code TETHER_NETNS=on}.
   */
  public String host(int i) {
    return "on".equals(env.get("TETHER_NETNS")) ? "10.77." + env.getOrDefault("TETHER_NETNS_ID", "7") + "." + i : "127.0.0.1";
  }

  /**
   * Whether this machine can run nodes in network namespaces (root and a working {@code ip netns}), which a
   * real partition needs.
   */
  public static boolean networkNamespacesAvailable() {
    String probe = "tth-probe-" + ProcessHandle.current().pid();
    try {
      Process add = new ProcessBuilder("ip", "netns", "add", probe).redirectErrorStream(true).start();
      add.getInputStream().readAllBytes();
      if (add.waitFor() != 0) {
        return false;
      }
      new ProcessBuilder("ip", "netns", "del", probe).redirectErrorStream(true).start().waitFor();
      return true;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** HTTP port of node {@code i} (1-based). */
  public int port(int i) {
    return basePort + i;
  }

  public String run(String... args) {
    List<String> command = new ArrayList<>();
    command.add(root.resolve("scripts/cluster.sh").toString());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).directory(root.toFile()).redirectErrorStream(true);
    builder.environment().putAll(env);
    try {
      Process process = builder.start();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(180, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException("cluster.sh " + String.join(" ", args) + " timed out");
      }
      if (process.exitValue() != 0) {
        throw new IllegalStateException("cluster.sh " + String.join(" ", args) + " failed:\n" + output);
      }
      return output;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * The lines of the nodes' logs that contain {@code needle}, each prefixed with its node, at most
   * {@code limit}: what a failed assertion shows of the nodes' side of the story.
   */
  public List<String> logLines(String needle, int limit) {
    Path dir = Path.of(env.getOrDefault("TETHER_CLUSTER_DIR", root.resolve("target/cluster").toString()));
    List<String> found = new ArrayList<>();
    for (int i = 1; i <= 9 && found.size() < limit; i++) {
      Path log = dir.resolve("node-" + i + ".log");
      if (!java.nio.file.Files.isRegularFile(log)) {
        continue;
      }
      try (var lines = java.nio.file.Files.lines(log, StandardCharsets.UTF_8)) {
        int node = i;
        lines.filter(line -> line.contains(needle)).limit(limit - found.size())
            .forEach(line -> found.add("node-" + node + ": " + line));
      } catch (IOException | java.io.UncheckedIOException e) {
        found.add("node-" + i + ": log unreadable: " + e.getMessage());
      }
    }
    return found;
  }

  /** Sends {@code signal} (e.g. STOP, CONT) to node {@code i}'s process, found through its pid file. */
  public void signal(int i, String signal) {
    String dir = env.getOrDefault("TETHER_CLUSTER_DIR", root.resolve("target/cluster").toString());
    try {
      String pid = java.nio.file.Files.readString(Path.of(dir, "node-" + i + ".pid")).trim();
      Process kill = new ProcessBuilder("kill", "-" + signal, pid).inheritIO().start();
      if (kill.waitFor() != 0) {
        throw new IllegalStateException("kill -" + signal + " " + pid + " failed");
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    run("down");
  }
}
