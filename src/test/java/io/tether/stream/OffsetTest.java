package io.tether.stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class OffsetTest {

  @Test
  void textFormRoundTripsAndSortsLikePositions() {
    Offset a = new Offset(9, 1234);
    Offset b = new Offset(10, 1300);
    assertThat(a.toString()).isEqualTo("0000000000000009_0000000000001234");
    assertThat(Offset.parse(a.toString())).isEqualTo(a);
    assertThat(a.toString().compareTo(b.toString())).isNegative();
    assertThat(a.compareTo(b)).isNegative();
  }

  @Test
  void plusAdvancesOneEventAndItsBytes() {
    assertThat(Offset.ZERO.plus(5)).isEqualTo(new Offset(1, 5));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "0", "-1", "now", "0,1", "0 1", "000000000000000_0000000000000000",
      "0000000000000000-0000000000000000", "000000000000000a_0000000000000000", "../0000000000000000_000000000000000"})
  void rejectsAnythingButTheCanonicalForm(String text) {
    assertThatThrownBy(() -> Offset.parse(text)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void readStartUnderstandsTheSentinels() {
    assertThat(ReadStart.parse("-1")).isEqualTo(ReadStart.BEGINNING);
    assertThat(ReadStart.parse("now")).isEqualTo(ReadStart.NOW);
    assertThat(ReadStart.parse("0000000000000003_0000000000000010"))
        .isEqualTo(new ReadStart.At(new Offset(3, 10)));
    assertThat(ReadStart.fromWire(ReadStart.NOW.wireIndex(), 0)).isEqualTo(ReadStart.NOW);
    assertThat(ReadStart.fromWire(ReadStart.BEGINNING.wireIndex(), 0)).isEqualTo(ReadStart.BEGINNING);
  }
}
