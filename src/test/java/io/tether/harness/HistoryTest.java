package io.tether.harness;

import io.tether.harness.History.Outcome;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The fault harness's checker finds each kind of violation it reports, and passes a clean history. */
class HistoryTest {

  private static History producerStream(String content) {
    History h = new History();
    h.producedBy("s");
    h.append("s", "P0", Outcome.ACKNOWLEDGED);
    h.append("s", "P1", Outcome.ACKNOWLEDGED);
    h.append("s", "P2", Outcome.UNKNOWN);
    h.finalContent("s", content);
    return h;
  }

  @Test
  void aCleanHistoryPasses() {
    History h = producerStream("P0;P1;P2;");
    h.reader("s", "P0;P1;");
    h.turnAccepted(1);
    h.turnEnds(1, 1);
    History.Verdict v = h.check();
    assertThat(v.clean()).isTrue();
    assertThat(v.acknowledged).isEqualTo(2);
    assertThat(v.unknown).isEqualTo(1);
  }

  @Test
  void findsLostDuplicatedAndForkedProducerAppends() {
    assertThat(producerStream("P0;").check().lost).isEqualTo(1);
    assertThat(producerStream("P0;P1;P1;").check().duplicated).isEqualTo(1);
    assertThat(producerStream("P0;P1;P2;P2;").check().duplicated).as("unknown outcome twice").isEqualTo(1);
    assertThat(producerStream("P1;P0;").check().producerForks).isEqualTo(1);
  }

  @Test
  void findsRefusedAppendsThatWereStoredAndTokensNobodySent() {
    History h = new History();
    h.append("a", "A1", Outcome.REFUSED);
    h.finalContent("a", "A1;X9;");
    History.Verdict v = h.check();
    assertThat(v.refusedButStored).isEqualTo(1);
    assertThat(v.phantom).isEqualTo(1);
  }

  @Test
  void findsReadersThatSawWhatTheStreamDoesNotHold() {
    History h = producerStream("P0;P1;");
    h.reader("s", "P0;P1;P2;");
    h.reader("s", "P1;");
    assertThat(h.check().divergentReads).isEqualTo(2);
  }

  @Test
  void aLateUnknownAppendSeenByReadersIsNotADivergenceOnceTheLaterReadHasIt() {
    // P2's writer was told "unknown"; it landed after the first final read and the readers saw it.
    History h = producerStream("P0;P1;");
    h.reader("s", "P0;P1;P2;");
    h.laterContent("s", "P0;P1;P2;");
    assertThat(h.check().clean()).isTrue();
  }

  @Test
  void aLaterReadThatDoesNotExtendTheFinalReadIsADivergence() {
    History h = producerStream("P0;P1;P2;");
    h.laterContent("s", "P0;P1;");
    History.Verdict v = h.check();
    assertThat(v.divergentReads).isEqualTo(1);
    assertThat(v.clean()).isFalse();
  }

  @Test
  void findsTurnsThatEndedTwiceOrNever() {
    History h = new History();
    h.turnAccepted(1);
    h.turnAccepted(2);
    h.turnEnds(1, 2);
    History.Verdict v = h.check();
    assertThat(v.turnsEndedTwice).isEqualTo(1);
    assertThat(v.turnsNeverEnded).isEqualTo(1);
  }
}
