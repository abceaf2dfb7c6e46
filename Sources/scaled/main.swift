print("scaled")
