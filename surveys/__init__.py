"""Multi-survey integration 多测合一: survey projects, deliverables, checks, sharing."""
