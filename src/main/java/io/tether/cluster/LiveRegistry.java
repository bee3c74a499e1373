package io.tether.cluster;

import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** The live subscriptions held by connections on this node, by subscription id. */
public final class LiveRegistry {

  private final AtomicLong ids = new AtomicLong();
  private final Map<Long, LiveSubscription> subscriptions = new ConcurrentHashMap<>();

  long nextId() {
    return ids.incrementAndGet();
  }

  void add(LiveSubscription subscription) {
    subscriptions.put(subscription.id(), subscription);
  }

  void remove(LiveSubscription subscription) {
    subscriptions.remove(subscription.id(), subscription);
  }

  LiveSubscription get(long id) {
    return subscriptions.get(id);
  }

  public int size() {
    return subscriptions.size();
  }

  /** Ends every subscription on this node, telling each client to reconnect elsewhere. */
  public void shutdownAll() {
    for (LiveSubscription subscription : subscriptions.values()) {
      subscription.shutdown();
    }
  }

  Collection<LiveSubscription> all() {
    return subscriptions.values();
  }
}
