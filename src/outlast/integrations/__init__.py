"""Outlast inside the frameworks apps are built with; each integration is imported only by
the apps that use it, so ``import outlast`` never loads a framework."""
