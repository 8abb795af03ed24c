"""Looking inside a trained model, all numpy: gate traces (gates.py), labels and the cell finder (labels.py,
find.py), surprise, clamps (interventions.py), minimal pairs, the Teach page's lessons and the probes traced during
training (probes.py).

May import: charlstm.config, text, model. Never TensorFlow or Streamlit.
"""
