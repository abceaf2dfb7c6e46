print("scalectl")
