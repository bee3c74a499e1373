package io.tether.stream;

import io.tether.wire.WireInput;
import io.tether.wire.WireOutput;

import java.util.concurrent.ThreadLocalRandom;

/**
 * The ownership fence of a stream: the claim an owner made, not just a number. {@code epoch} grows on
 * every change of owner (readers order pushes by it); {@code token} is drawn at random by the claiming
 * owner, so two owners that reach the same epoch (the two sides of a split cluster, or an owner of a
 * deleted stream and the owner of its re-creation) still hold different fences, and only the one that
 * the stored stream names may act on it.
 *
 * @param epoch the ownership epoch
 * @param token the claimant's random token, never 0 for a real claim
 */
public record Fence(long epoch, long token) {

  /** The fence of an owner that has not claimed anything yet; matches no stored stream. */
  public static final Fence NONE = new Fence(0, 0);

  /** A fresh token for a new claim. */
  public static long newToken() {
    return ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
  }

  /** The fence of the next claim of a stream held under this one. */
  public Fence next(long newToken) {
    return new Fence(epoch + 1, newToken);
  }

  public void writeTo(WireOutput out) {
    out.writeLong(epoch);
    out.writeLong(token);
  }

  public static Fence readFrom(WireInput in) {
    return new Fence(in.readLong(), in.readLong());
  }
}
