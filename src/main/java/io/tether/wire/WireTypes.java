package io.tether.wire;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Registry of decoders by wire type id. Each capability package registers its own messages at class
 * initialisation through a {@code register()} call made by {@link io.tether.TetherNode} before any
 * traffic flows; ids are grouped by package (1xx stream state and entry processors, 2xx cluster
 * messages).
 */
public final class WireTypes {

  private static final Map<Integer, Function<WireInput, ? extends WireMessage>> DECODERS = new ConcurrentHashMap<>();

  private WireTypes() {
  }

  public static void register(int type, Function<WireInput, ? extends WireMessage> decoder) {
    Function<WireInput, ? extends WireMessage> previous = DECODERS.putIfAbsent(type, decoder);
    if (previous != null && previous != decoder) {
      // Registration is idempotent per decoder; a different decoder under the same id is a programming error.
      if (!previous.getClass().equals(decoder.getClass())) {
        throw new IllegalStateException("wire type " + type + " registered twice");
      }
    }
  }

  public static WireMessage decode(int type, WireInput in) {
    Function<WireInput, ? extends WireMessage> decoder = DECODERS.get(type);
    if (decoder == null) {
      throw new IllegalArgumentException("unknown wire type " + type);
    }
    return decoder.apply(in);
  }
}
