package dev.rage2e.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
    @Test
    void stepsAloneLayOutTheDecay() {
        LrSchedule s = new LrSchedule(LrSchedule.Kind.LINEAR, 10, 110);
        assertEquals(0.1f, s.factor(0), 1e-6);
        assertEquals(1f, s.factor(10), 1e-6);
        assertEquals(0.5f, s.factor(60), 1e-6);
        assertEquals(0f, s.factor(110), 1e-6);
        assertEquals(0.25f, new LrSchedule(LrSchedule.Kind.POLYNOMIAL, 10, 110).factor(60), 1e-6);
    }

    @Test
    void whicheverOfStepsAndBudgetIsFurtherAlongDecides() {
        LrSchedule s = new LrSchedule(LrSchedule.Kind.LINEAR, 10, 1_000_010, 1800);
        assertEquals(0.5f, s.factor(100, 900), 1e-4, "the budget is half used, the steps hardly");
        assertEquals(0f, s.factor(200, 1900), 1e-6, "past the budget: 0, never negative");
        LrSchedule fewSteps = new LrSchedule(LrSchedule.Kind.LINEAR, 0, 100, 1800);
        assertEquals(0.2f, fewSteps.factor(80, 60), 1e-6, "the steps are further along than the budget");
        assertEquals(0.5f, new LrSchedule(LrSchedule.Kind.LINEAR, 10, 20, 0).factor(15, 1e9), 1e-6, "no budget");
    }

    @Test
    void warmupAndConstantIgnoreTheBudget() {
        LrSchedule c = new LrSchedule(LrSchedule.Kind.CONSTANT, 10, 1_000_000, 1800);
        assertEquals(0.5f, c.factor(4, 1000), 1e-6);
        assertEquals(1f, c.factor(500, 1700), 1e-6);
    }
}
