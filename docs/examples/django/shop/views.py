from django.shortcuts import render

from shop.models import Product


def product_list(request):
    products = Product.objects.order_by("name")
    return render(request, "shop/product_list.html", {"products": products})
