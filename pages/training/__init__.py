"""The Train page in three parts (form, jobs, runs); pages/train.py draws them in order."""
