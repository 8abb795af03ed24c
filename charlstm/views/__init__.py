"""Charts and drawings, pure functions of plain data: Altair charts (charts.py, unit_charts.py, teach_charts.py),
the LSTM cell diagram (cell_diagram.py) and the measured tutorial comparison (comparison.py, data in the package).

May import: charlstm.config, text, model, insight (their records and names), training (its progress records).
Never Streamlit: the pages draw what these return.
"""
