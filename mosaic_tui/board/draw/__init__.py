"""What the board draws with, beside the widgets: Rich text helpers (``text``), the dependency graph as
text (``graph_text``), the drawn graph's picture (``dag_view``), bar plots (``plot``) and a long text shown
line by line (``textview``)."""
