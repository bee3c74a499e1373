package io.tether;

import io.tether.config.TetherConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;

/** {@code java -jar tether.jar}: one node configured from {@code TETHER_*} environment variables. */
public final class Main {

  private static final Logger log = LoggerFactory.getLogger(Main.class);

  private Main() {
  }

  public static void main(String[] args) {
    TetherConfig config;
    try {
      config = TetherConfig.fromEnvironment();
    } catch (IllegalArgumentException e) {
      System.err.println("tether: invalid configuration: " + e.getMessage());
      System.exit(2);
      return;
    }
    TetherNode node;
    try {
      node = TetherNode.start(config);
    } catch (Exception e) {
      log.error("Tether node failed to start", e);
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.stop().await(90, TimeUnit.SECONDS);
      } catch (Exception e) {
        log.warn("shutdown did not complete cleanly: {}", e.getMessage());
      }
    }, "tether-shutdown"));
  }
}
