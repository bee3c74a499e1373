package io.tether.cluster.routing;

/** Event-bus addresses. Every stream has its own; every node has a control and a live-delivery address. */
public final class Addresses {

  private Addresses() {
  }

  /** The clustered address of a stream's owner verticle. */
  public static String stream(String name) {
    return "tether.stream." + name;
  }

  /** A node's control address: activation of streams whose partition it holds. */
  public static String control(String nodeId) {
    return "tether.node." + nodeId;
  }

  /** Published by a node that is about to leave, after it stopped answering for any stream. */
  public static final String LEAVING = "tether.leaving";

  /** A node's live address: owners push new events for the subscriptions held there. */
  public static String live(String nodeId) {
    return "tether.live." + nodeId;
  }
}
