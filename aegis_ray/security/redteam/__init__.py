"""The red team: attack scenarios with benign twins, judged by what actually happened."""
