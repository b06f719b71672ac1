"""Stage 3: what a section notebook imports to present the store: context, charts, renderer."""
