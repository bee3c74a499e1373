package io.tether.cluster.live;

import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** The live subscriptions held by connections on this node, by subscription id. */
public final class LiveRegistry {

  /**
   * Ids start at a random point: an owner may still push to a subscription id of an earlier process of
   * this node (node ids are stable pod names), and that id must not name a new subscription.
   */
  private final AtomicLong ids = new AtomicLong(java.util.concurrent.ThreadLocalRandom.current().nextLong(1L << 62));
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

  public LiveSubscription get(long id) {
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

  public Collection<LiveSubscription> all() {
    return subscriptions.values();
  }
}
