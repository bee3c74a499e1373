package io.tether.harness;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The record of one round of the fault harness, and the checker of its promises. Writers record what
 * they were told about each append (acknowledged, unknown, refused); readers record the text they
 * delivered; the round ends with an authoritative read of every stream. Payloads are unique tokens
 * ending in {@code ;}, so a stream's content can be split back into the appends that made it.
 *
 * <p>What is checked, per stream:
 * <ul>
 *   <li>an acknowledged append appears exactly once ({@code lost} when absent, {@code duplicated} when
 *       more); an append of unknown outcome at most once; a refused one never;</li>
 *   <li>an idempotent producer's stored sequence numbers are exactly 0..n, in order (no fork, no gap);</li>
 *   <li>every reader's delivered text is a prefix of the final content: no reader saw different content
 *       at an offset ({@code divergent}) or an event that is absent afterwards;</li>
 *   <li>every session turn that was accepted ended exactly once.</li>
 * </ul>
 */
final class History {

  enum Outcome { ACKNOWLEDGED, UNKNOWN, REFUSED }

  private static final Pattern PRODUCED = Pattern.compile("^P(\\d+)$");

  private final Map<String, Map<String, Outcome>> appends = new HashMap<>();
  private final Map<String, List<String>> readers = new HashMap<>();
  private final Map<String, String> finals = new HashMap<>();
  private final Map<String, Integer> producedStreams = new HashMap<>();
  private final Map<Integer, Integer> turnEnds = new HashMap<>();
  private final List<Integer> acceptedTurns = new ArrayList<>();
  private final List<String> notes = new ArrayList<>();
  private int laterReadsDiverging;

  synchronized void append(String stream, String token, Outcome outcome) {
    Map<String, Outcome> log = appends.computeIfAbsent(stream, s -> new HashMap<>());
    // A later, firmer answer for the same token (a producer retry acknowledged) wins.
    log.merge(token, outcome, (a, b) -> a == Outcome.ACKNOWLEDGED || b == Outcome.ACKNOWLEDGED ? Outcome.ACKNOWLEDGED
        : a == Outcome.UNKNOWN || b == Outcome.UNKNOWN ? Outcome.UNKNOWN : Outcome.REFUSED);
  }

  /** Marks {@code stream} as written by an idempotent producer whose tokens are {@code P<seq>}. */
  synchronized void producedBy(String stream) {
    producedStreams.put(stream, 1);
  }

  synchronized void reader(String stream, String delivered) {
    readers.computeIfAbsent(stream, s -> new ArrayList<>()).add(delivered);
  }

  synchronized void finalContent(String stream, String content) {
    if (content != null) {
      finals.put(stream, content);
    }
  }

  /**
   * The stream read again once the readers have stopped: a request whose writer gave up on it (outcome
   * unknown) may still land after the first final read, up to a second past its sender's timeout. The
   * later read is what the checks use; it must extend the earlier one, or two reads disagree.
   */
  synchronized void laterContent(String stream, String content) {
    String earlier = finals.get(stream);
    if (content == null || earlier == null) {
      return;
    }
    if (!content.startsWith(earlier)) {
      laterReadsDiverging++;
      notes.add("the read of " + stream + " after the readers stopped does not extend the earlier final read ("
          + earlier.length() + " then " + content.length() + " chars)");
    }
    finals.put(stream, content);
  }

  synchronized String finalOf(String stream) {
    return finals.get(stream);
  }

  synchronized void turnAccepted(int turn) {
    acceptedTurns.add(turn);
  }

  /** Number of terminal events ({@code generation.completed|stopped|failed}) found for {@code turn}. */
  synchronized void turnEnds(int turn, int count) {
    turnEnds.put(turn, count);
  }

  synchronized void note(String note) {
    notes.add(note);
  }

  synchronized List<String> notes() {
    return List.copyOf(notes);
  }

  /** Checks everything recorded; the counts of each kind of violation (zero everywhere is a pass). */
  synchronized Verdict check() {
    Verdict v = new Verdict();
    v.divergentReads += laterReadsDiverging;
    for (Map.Entry<String, Map<String, Outcome>> stream : appends.entrySet()) {
      String content = finals.get(stream.getKey());
      if (content == null) {
        v.unreadable++;
        notes.add("no final read of " + stream.getKey());
        continue;
      }
      Map<String, Integer> counts = new HashMap<>();
      List<String> order = new ArrayList<>();
      for (String token : content.split(";")) {
        if (!token.isEmpty()) {
          counts.merge(token, 1, Integer::sum);
          order.add(token);
        }
      }
      for (Map.Entry<String, Outcome> append : stream.getValue().entrySet()) {
        int n = counts.getOrDefault(append.getKey(), 0);
        switch (append.getValue()) {
          case ACKNOWLEDGED -> {
            v.acknowledged++;
            if (n == 0) {
              v.lost++;
              notes.add("lost: " + stream.getKey() + " " + append.getKey());
            } else if (n > 1) {
              v.duplicated++;
              notes.add("duplicated: " + stream.getKey() + " " + append.getKey() + " x" + n);
            }
          }
          case UNKNOWN -> {
            v.unknown++;
            if (n > 1) {
              v.duplicated++;
              notes.add("duplicated (unknown outcome): " + stream.getKey() + " " + append.getKey() + " x" + n);
            }
          }
          case REFUSED -> {
            v.refused++;
            if (n > 0) {
              v.refusedButStored++;
              notes.add("refused but stored: " + stream.getKey() + " " + append.getKey());
            }
          }
        }
      }
      for (String token : counts.keySet()) {
        if (!stream.getValue().containsKey(token)) {
          v.phantom++;
          notes.add("stored but never sent: " + stream.getKey() + " " + token);
        }
      }
      if (producedStreams.containsKey(stream.getKey())) {
        long expected = 0;
        for (String token : order) {
          Matcher m = PRODUCED.matcher(token);
          if (!m.matches() || Long.parseLong(m.group(1)) != expected) {
            v.producerForks++;
            notes.add("producer sequence of " + stream.getKey() + " breaks at " + token + " (expected P" + expected + ")");
            break;
          }
          expected++;
        }
      }
      for (String delivered : readers.getOrDefault(stream.getKey(), List.of())) {
        v.readers++;
        if (!content.startsWith(delivered)) {
          v.divergentReads++;
          int at = 0;
          while (at < delivered.length() && at < content.length() && delivered.charAt(at) == content.charAt(at)) {
            at++;
          }
          notes.add("reader of " + stream.getKey() + " diverges at char " + at + ": saw '"
              + delivered.substring(at, Math.min(delivered.length(), at + 40)) + "', final has '"
              + content.substring(at, Math.min(content.length(), at + 40)) + "'");
        }
      }
    }
    for (int turn : acceptedTurns) {
      v.turns++;
      int ends = turnEnds.getOrDefault(turn, 0);
      if (ends == 0) {
        v.turnsNeverEnded++;
        notes.add("turn " + turn + " never ended");
      } else if (ends > 1) {
        v.turnsEndedTwice++;
        notes.add("turn " + turn + " ended " + ends + " times");
      }
    }
    return v;
  }

  /** Counts of one round (or, added up, of many). */
  static final class Verdict {
    long acknowledged;
    long unknown;
    long refused;
    long lost;
    long duplicated;
    long refusedButStored;
    long phantom;
    long producerForks;
    long readers;
    long divergentReads;
    long unreadable;
    long turns;
    long turnsEndedTwice;
    long turnsNeverEnded;

    boolean clean() {
      return lost == 0 && duplicated == 0 && refusedButStored == 0 && phantom == 0 && producerForks == 0
          && divergentReads == 0 && unreadable == 0 && turnsEndedTwice == 0 && turnsNeverEnded == 0;
    }

    void add(Verdict o) {
      acknowledged += o.acknowledged;
      unknown += o.unknown;
      refused += o.refused;
      lost += o.lost;
      duplicated += o.duplicated;
      refusedButStored += o.refusedButStored;
      phantom += o.phantom;
      producerForks += o.producerForks;
      readers += o.readers;
      divergentReads += o.divergentReads;
      unreadable += o.unreadable;
      turns += o.turns;
      turnsEndedTwice += o.turnsEndedTwice;
      turnsNeverEnded += o.turnsNeverEnded;
    }
  }
}
