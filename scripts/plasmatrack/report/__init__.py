"""HTML reports: one page per patient and one for the cohort.

- ``sources``: where the published stage tables are (the contract of docs/architecture.md) and
  reading them, every table optional so a page renders with whatever stages have run;
- ``patient_figures``, ``cohort_figures``: pure functions, tables -> plotly figures (no file
  access), sharing colours, template, escaping and number formatting from ``plotting``;
- ``pages``: assembles self-contained offline pages (plotly.js embedded once per page, Jinja2
  autoescape) and writes every plotted table as TSV beside the page;
- ``synthetic``: realistic stage tables built in code, for tests and the 200-patient benchmark.
"""
